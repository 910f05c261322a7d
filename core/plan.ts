import { type Calibration, estimateJobSeconds } from './estimate.ts';
import type { GenerationParams, JobRecord } from './job.ts';
import { LIMITS } from './limits.ts';
import type { StartInput } from './start-input.ts';

export const DEFAULT_PARAMS = {
  negative_prompt: '',
  width: 512,
  height: 512,
  steps: 20,
  cfg_scale: 7,
  sampler_name: 'Euler a',
  seed: -1,
  batch_size: 1,
  n_iter: 1,
} as const;

/** A concrete base seed for -1, drawn from the range SD WebUI itself draws from. */
export const randomSeed = (): number => Math.floor(Math.random() * LIMITS.seed.max);

export interface PlanContext {
  jobId: string;
  owner: string;
  now: Date;
  retentionSeconds: number;
  calibration: Calibration;
  parallelHosts: number;
  drawSeed?: () => number;
}

/** Turns validated tool arguments into the job record that is stored before anything runs. */
export function planJob(input: StartInput, ctx: PlanContext): JobRecord {
  const merged = { ...DEFAULT_PARAMS, ...stripUndefined(input), prompt: input.prompt };
  const seed = merged.seed === -1 ? (ctx.drawSeed ?? randomSeed)() : merged.seed;
  const params: GenerationParams = { ...merged, seed };
  return {
    job_id: ctx.jobId,
    owner: ctx.owner,
    status: 'pending',
    created_at: ctx.now.toISOString(),
    params,
    total_images: params.batch_size * params.n_iter,
    completed_images: 0,
    failed_images: 0,
    estimated_seconds: Math.round(estimateJobSeconds(params, ctx.calibration, ctx.parallelHosts)),
    expires_at: Math.floor(ctx.now.getTime() / 1000) + ctx.retentionSeconds,
  };
}

/**
 * Seeds of iteration i: the images batch i of one SD WebUI call with the same seed, batch_size
 * and n_iter would have had (seed + i*b ... seed + i*b + b - 1).
 */
export function iterationSeeds(params: GenerationParams, iteration: number): number[] {
  const first = params.seed + iteration * params.batch_size;
  return Array.from({ length: params.batch_size }, (_, k) => first + k);
}

export function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
