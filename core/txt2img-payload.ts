import type { GenerationParams } from './job.ts';
import { iterationSeeds } from './plan.ts';

/** The txt2img request body for one iteration; undefined fields are left out (nulls make SD WebUI 422). */
export function buildTxt2ImgPayload(params: GenerationParams, iteration: number): Record<string, unknown> {
  const [seed] = iterationSeeds(params, iteration);
  const payload: Record<string, unknown> = {
    prompt: params.prompt,
    negative_prompt: params.negative_prompt,
    width: params.width,
    height: params.height,
    steps: params.steps,
    cfg_scale: params.cfg_scale,
    sampler_name: params.sampler_name,
    scheduler: params.scheduler,
    seed,
    batch_size: params.batch_size,
    n_iter: 1,
    send_images: true,
    save_images: false,
  };
  return dropNullish(payload);
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
