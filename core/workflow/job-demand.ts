import { type Calibration, secondsPerImage } from '../estimate.ts';
import type { JobRecord } from '../job.ts';
import { CALLS_PER_RUNNER } from '../plan.ts';
import type { JobDemand } from '../pool/host-pool.ts';

/**
 * What a job asks the pool with: when it was created, the slots its runners can use, and the
 * GPU time its unfinished iterations need (the pool turns these into its place in line).
 * `finished`: iterations this runner finished since the job record was read.
 */
export function jobDemand(
  job: JobRecord,
  runners: number,
  calibration: Calibration,
  finished = 0,
): JobDemand {
  const { params } = job;
  const left = Math.max(1, params.n_iter - (job.counted?.size ?? 0) - finished);
  return {
    jobId: job.job_id,
    createdAt: Date.parse(job.created_at),
    want: Math.min(CALLS_PER_RUNNER * runners, left),
    secondsLeft: (rates) => left * params.batch_size * secondsPerImage(params, calibration, rates),
  };
}
