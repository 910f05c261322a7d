import { randomInt } from 'node:crypto';
import {
  type Checkpoint,
  closestCheckpoint,
  DEFAULT_CHECKPOINT,
  findCheckpoint,
  isKnownUpscaler,
  resolveSampler,
} from './catalog.ts';
import { dynamicPromptsArgs, expandPrompt } from './dynamic-prompts.ts';
import { pyRepr, serverException } from './errors.ts';
import { type HostProfile, PROFILES } from './flavour.ts';
import type { Txt2ImgRequest } from './validate.ts';

/** What one txt2img request will do, resolved the way processing.py resolves it. */
export interface GenerationPlan {
  request: Txt2ImgRequest;
  profile: HostProfile;
  checkpoint: Checkpoint;
  sampler: string;
  /** The infotext's `Schedule type`; undefined on hosts without schedulers. */
  scheduler: string | undefined;
  clipSkip: number;
  batchSize: number;
  nIter: number;
  steps: number;
  /** Steps of the hires pass; 0 without one. */
  hrSteps: number;
  size: Size;
  hrSize: Size;
  seeds: number[];
  subseeds: number[];
  prompts: string[];
  negativePrompts: string[];
  extra: Record<string, string | number>;
}

export interface Size {
  width: number;
  height: number;
}

const MAX_PIXELS = 4096 * 4096;
const floor8 = (n: number) => Math.floor(n / 8) * 8;
const randomSeed = () => randomInt(0, 4294967294);
const pyFloat = (n: number) => (Number.isInteger(n) ? n.toFixed(1) : String(n));
const isUnset = (name: string | null) => name === null || name === '' || name === 'None';

function required(value: number | null, field: string): number {
  if (value === null)
    throw serverException('TypeError', `unsupported operand type(s) for *: 'NoneType' and 'int' (${field})`);
  return value;
}

function hiresSize(r: Txt2ImgRequest, width: number, height: number, hrScale: number): Size {
  const x = r.hr_resize_x ?? 0;
  const y = r.hr_resize_y ?? 0;
  if (x === 0 && y === 0)
    return { width: floor8(Math.trunc(width * hrScale)), height: floor8(Math.trunc(height * hrScale)) };
  if (y === 0) return { width: floor8(x), height: floor8(Math.floor((x * height) / width)) };
  if (x === 0) return { width: floor8(Math.floor((y * width) / height)), height: floor8(y) };
  return { width: floor8(x), height: floor8(y) }; // upscaled to cover, then cropped to x×y
}

function checkOverrides(overrides: Record<string, unknown>, options: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(overrides)) {
    if (!(key in options) && value !== null) throw serverException('KeyError', pyRepr(key));
  }
}

/**
 * Resolves model, sampler, sizes, seeds and prompts; throws the 500s that processing.py raises
 * before sampling (null core fields, unknown override key, unknown hires upscaler or checkpoint).
 */
export function planTxt2Img(
  r: Txt2ImgRequest,
  options: Record<string, unknown>,
  profile: HostProfile = PROFILES.reforge,
): GenerationPlan {
  const batchSize = required(r.batch_size, 'batch_size');
  const nIter = required(r.n_iter, 'n_iter');
  const steps = required(r.steps, 'steps');
  const cfgScale = required(r.cfg_scale, 'cfg_scale');
  const width = required(r.width, 'width');
  const height = required(r.height, 'height');
  const overrides = r.override_settings ?? {};
  checkOverrides(overrides, options);
  if (batchSize < 1 || nIter < 1) throw serverException('IndexError', 'list index out of range');
  if (steps < 1) throw serverException('ZeroDivisionError', 'division by zero');

  const extra: Record<string, string | number> = {};
  const size = { width: floor8(width), height: floor8(height) };
  let hrSize = size;
  let hrSteps = 0;
  if (r.enable_hr) {
    const hrScale = r.hr_scale ?? 2;
    if (r.hr_upscaler !== null && !isKnownUpscaler(r.hr_upscaler)) {
      throw serverException('Exception', `could not find upscaler named ${r.hr_upscaler}`);
    }
    const hrCheckpoint = r.hr_checkpoint_name;
    if (
      !isUnset(hrCheckpoint) &&
      hrCheckpoint !== 'Use same checkpoint' &&
      !closestCheckpoint(hrCheckpoint ?? '')
    ) {
      throw serverException('Exception', `Could not find checkpoint with name ${hrCheckpoint}`);
    }
    hrSize = hiresSize(r, width, height, hrScale);
    const denoise = r.denoising_strength ?? 0.75;
    // The hires pass is an img2img pass: its sampler runs t_enc + 1 steps (setup_img2img_steps).
    hrSteps = r.hr_second_pass_steps || Math.trunc(Math.min(denoise, 0.999) * steps) + 1;
    extra['Denoising strength'] = denoise;
    if ((r.hr_resize_x ?? 0) === 0 && (r.hr_resize_y ?? 0) === 0) extra['Hires upscale'] = hrScale;
    else extra['Hires resize'] = `${r.hr_resize_x ?? 0}x${r.hr_resize_y ?? 0}`;
    if (r.hr_second_pass_steps) extra['Hires steps'] = r.hr_second_pass_steps;
    if (r.hr_upscaler !== null) extra['Hires upscaler'] = r.hr_upscaler;
    if (!profile.unknownFields.includes('hr_cfg')) extra['Hires CFG Scale'] = r.hr_cfg ?? 1;
  }
  if (!isUnset(r.refiner_checkpoint) && !closestCheckpoint(r.refiner_checkpoint ?? '')) {
    throw serverException('Exception', `Could not find checkpoint with name ${r.refiner_checkpoint}`);
  }
  const largest = Math.max(size.width * size.height, hrSize.width * hrSize.height);
  if (size.width < 8 || size.height < 8 || largest * batchSize > MAX_PIXELS) {
    throw serverException(
      'OutOfMemoryError',
      `CUDA out of memory. Tried to allocate ${size.width}x${size.height}.`,
    );
  }

  const count = batchSize * nIter;
  const seed = r.seed === null || r.seed === -1 ? randomSeed() : r.seed;
  const subseed = r.subseed === null || r.subseed === -1 ? randomSeed() : r.subseed;
  const dp = dynamicPromptsArgs(r.alwayson_scripts);
  const sameSeed = (r.subseed_strength ?? 0) !== 0 || (dp.enabled && dp.useFixedSeed);
  const seeds = Array.from({ length: count }, (_, i) => seed + (sameSeed ? 0 : i));
  const prompt = r.prompt ?? '';
  const samplerName = r.sampler_name || r.sampler_index;
  // Without schedulers (1.8) the name is taken whole ("DPM++ 2M Karras"); it was checked before queueing.
  const { sampler, scheduler } = profile.schedulers
    ? resolveSampler(samplerName, r.scheduler)
    : { sampler: samplerName, scheduler: undefined };
  const checkpoint =
    findCheckpoint(overrides.sd_model_checkpoint) ??
    findCheckpoint(options.sd_model_checkpoint) ??
    DEFAULT_CHECKPOINT;
  return {
    request: { ...r, cfg_scale: cfgScale },
    profile,
    checkpoint,
    sampler,
    scheduler,
    clipSkip: Number(overrides.CLIP_stop_at_last_layers ?? options.CLIP_stop_at_last_layers ?? 1),
    batchSize,
    nIter,
    steps,
    hrSteps,
    size,
    hrSize,
    seeds,
    subseeds: Array.from({ length: count }, (_, i) => subseed + i),
    prompts: seeds.map((s) => (dp.enabled ? expandPrompt(prompt, s, dp.unlinkSeed) : prompt)),
    negativePrompts: seeds.map(() => r.negative_prompt ?? ''),
    extra,
  };
}

/** Fields pydantic parsed as float, which Python prints as "7.0". */
const FLOAT_FIELDS = new Set([
  'CFG scale',
  'Variation seed strength',
  'Denoising strength',
  'Hires upscale',
  'Hires CFG Scale',
]);
const quote = (v: string) => (/[,\n:]/.test(v) ? JSON.stringify(v) : v);

/** The infotext of image i: prompt, negative prompt line, then `Key: value` pairs as create_infotext writes them. */
export function infotext(plan: GenerationPlan, i: number): string {
  const r = plan.request;
  const variation = (r.subseed_strength ?? 0) !== 0;
  const { 'Denoising strength': denoise, ...extra } = plan.extra;
  const resizeFrom = (r.seed_resize_from_w ?? 0) > 0 && (r.seed_resize_from_h ?? 0) > 0;
  const fields: Array<[string, string | number | undefined]> = [
    ['Steps', plan.steps],
    ['Sampler', plan.sampler],
    ['Schedule type', plan.scheduler],
    ['CFG scale', r.cfg_scale ?? 7],
    ['Seed', plan.seeds[i]],
    ['Face restoration', r.restore_faces ? 'CodeFormer' : undefined],
    ['Size', `${r.width}x${r.height}`],
    ['Model hash', plan.checkpoint.shorthash],
    ['Model', plan.checkpoint.stem],
    ['Variation seed', variation ? plan.subseeds[i] : undefined],
    ['Variation seed strength', variation ? (r.subseed_strength ?? 0) : undefined],
    ['Seed resize from', resizeFrom ? `${r.seed_resize_from_w}x${r.seed_resize_from_h}` : undefined],
    ['Denoising strength', denoise],
    ['Clip skip', plan.clipSkip > 1 ? plan.clipSkip : undefined],
    ['Tiling', r.tiling ? 'True' : undefined],
    ...Object.entries(extra),
    ['Version', plan.profile.version],
  ];
  const params = fields
    .filter((f): f is [string, string | number] => f[1] !== undefined)
    .map(([k, v]) => `${k}: ${quote(typeof v === 'number' && FLOAT_FIELDS.has(k) ? pyFloat(v) : String(v))}`)
    .join(', ');
  const negative = plan.negativePrompts[i] ? `\nNegative prompt: ${plan.negativePrompts[i]}` : '';
  return `${plan.prompts[i] ?? ''}${negative}\n${params}`.trim();
}

/** The `info` object (the response carries it JSON-encoded) for the images that were produced. */
export function infoObject(plan: GenerationPlan, produced: number[], jobTimestamp: string) {
  const r = plan.request;
  return {
    prompt: plan.prompts[0],
    all_prompts: plan.prompts,
    negative_prompt: plan.negativePrompts[0],
    all_negative_prompts: plan.negativePrompts,
    seed: plan.seeds[0],
    all_seeds: plan.seeds,
    subseed: plan.subseeds[0],
    all_subseeds: plan.subseeds,
    subseed_strength: r.subseed_strength,
    width: r.width,
    height: r.height,
    sampler_name: plan.sampler,
    cfg_scale: r.cfg_scale,
    steps: plan.steps,
    batch_size: plan.batchSize,
    restore_faces: r.restore_faces ?? false,
    face_restoration_model: r.restore_faces ? 'CodeFormer' : null,
    sd_model_name: plan.checkpoint.stem,
    sd_model_hash: plan.checkpoint.shorthash,
    sd_vae_name: null,
    sd_vae_hash: null,
    seed_resize_from_w: r.seed_resize_from_w,
    seed_resize_from_h: r.seed_resize_from_h,
    denoising_strength: r.denoising_strength,
    extra_generation_params: plan.extra,
    index_of_first_image: 0,
    infotexts: produced.map((i) => infotext(plan, i)),
    styles: r.styles ?? [],
    job_timestamp: jobTimestamp,
    clip_skip: plan.clipSkip,
    is_using_inpainting_conditioning: false,
    version: plan.profile.version,
  };
}
