import type { GenerationParams, JobRecord } from '../../core/job.ts';
import { planJob } from '../../core/plan.ts';
import { BUILT_IN_DEFAULTS, mergeParams } from '../../core/presets/merge.ts';

/** The built-in defaults with a prompt and a fixed seed; tests override what they look at. */
export const generationParams = (over: Partial<GenerationParams> = {}): GenerationParams => ({
  ...BUILT_IN_DEFAULTS,
  prompt: 'x',
  seed: 1,
  ...over,
});

/** A running job of alice's with nothing counted yet; tests override what they look at. */
export const jobRecord = (over: Partial<JobRecord> = {}): JobRecord => ({
  job_id: 'job_20261124_abcdefghij',
  owner: 'alice',
  status: 'running',
  created_at: '2026-11-24T10:00:00.000Z',
  params: generationParams(),
  total_images: 1,
  completed_images: 0,
  failed_images: 0,
  estimated_seconds: 60,
  expires_at: 0,
  ...over,
});

/**
 * A job planned as the gateway plans one (64x64 unless `args` say otherwise) on a one-host pool of
 * two slots at 0.01 s a step, ready for a store's create.
 */
export function plannedJob(jobId: string, args: Record<string, unknown> = {}): JobRecord {
  const params = mergeParams({}, { prompt: 'p', width: 64, height: 64, ...args }, () => 5);
  return planJob(params, {
    jobId,
    owner: 'o',
    now: new Date(),
    retentionSeconds: 3600,
    calibration: { secondsPerStep: 0.01 },
    pool: { hosts: 1, slots: 2 },
  });
}
