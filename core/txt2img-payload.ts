import type { GenerationParams } from './job.ts';
import { adetailerScript } from './params/adetailer.ts';
import { controlNetScript, type StoredControlNetUnit } from './params/controlnet.ts';
import { dynamicPromptsScript } from './params/dynamic-prompts.ts';
import { regionalPrompterScript } from './params/regional-prompter.ts';
import type { CallPart } from './request-limit.ts';

/** What the worker learned from the host before building the payload. */
export interface HostContext {
  /** Base64 control images, one per ControlNet unit, fetched by the worker. */
  controlNetImages?: string[];
  /** The host's own Dynamic Prompts title (it carries the extension's version). */
  dynamicPromptsTitle?: string;
}

/**
 * The txt2img body for iteration i: what one synchronous call with the same parameters would
 * have sent, narrowed to batch i (n_iter 1, its seed). Nulls and unset options are left out
 * (SD WebUI answers 422 to a null in several fields). With `part`, only those images of the
 * batch, from the seed (or subseed) of its first one (core/request-limit.ts, splitCalls).
 */
export function buildTxt2ImgPayload(
  params: GenerationParams,
  iteration: number,
  host: HostContext = {},
  part: CallPart = { first: 0, count: params.batch_size },
): Record<string, unknown> {
  const b = params.batch_size;
  const first = iteration * b + part.first;
  const varied = (params.subseed_strength ?? 0) !== 0;
  const override_settings = dropNullish({
    sd_model_checkpoint: params.checkpoint,
    CLIP_stop_at_last_layers: params.clip_skip,
  });
  const alwayson_scripts = {
    ...adetailerScript(params.adetailer),
    ...controlNetScript(params.controlnet as StoredControlNetUnit[] | undefined, host.controlNetImages ?? []),
    ...regionalPrompterScript(params),
    ...dynamicPromptsScript(params, host.dynamicPromptsTitle),
  };
  const hires = params.enable_hr
    ? {
        enable_hr: true,
        hr_scale: params.hr_scale,
        hr_upscaler: params.hr_upscaler,
        hr_second_pass_steps: params.hr_second_pass_steps,
        hr_resize_x: params.hr_resize_x,
        hr_resize_y: params.hr_resize_y,
        hr_sampler_name: params.hr_sampler_name,
        hr_prompt: params.hr_prompt,
        hr_negative_prompt: params.hr_negative_prompt,
        // Forge/reForge run the hires pass at CFG 1 when hr_cfg is missing; A1111 ignores it.
        hr_cfg: params.hr_cfg ?? params.cfg_scale,
        denoising_strength: params.denoising_strength,
      }
    : {};
  return dropNullish({
    prompt: params.prompt,
    negative_prompt: params.negative_prompt,
    width: params.width,
    height: params.height,
    steps: params.steps,
    cfg_scale: params.cfg_scale,
    sampler_name: params.sampler_name,
    scheduler: params.scheduler,
    // With a variation strength SD WebUI gives every image the same seed and advances subseeds.
    seed: varied ? params.seed : params.seed + first,
    subseed: params.subseed === undefined ? undefined : params.subseed + first,
    subseed_strength: params.subseed_strength,
    restore_faces: params.restore_faces,
    tiling: params.tiling,
    ...hires,
    batch_size: part.count,
    n_iter: 1,
    override_settings: Object.keys(override_settings).length > 0 ? override_settings : undefined,
    alwayson_scripts: Object.keys(alwayson_scripts).length > 0 ? alwayson_scripts : undefined,
    send_images: true,
    save_images: false,
  });
}

/** Removes null and undefined recursively from plain objects (arrays keep their positions). */
export function dropNullish<T>(value: T): T {
  if (Array.isArray(value)) return value.map(dropNullish) as T;
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (v === null || v === undefined) continue;
    out[k] = dropNullish(v);
  }
  return out as T;
}
