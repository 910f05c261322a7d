import { DEFAULT_CALIBRATION, imageWork, rateKey, secondsPerUnit } from '../estimate.ts';
import type { JobRecord } from '../job.ts';
import { CALLS_PER_RUNNER } from '../plan.ts';
import type { JobClaim } from '../pool/waiters.ts';

/**
 * What a job claims of the pool: when it was created, the sampling work its unfinished iterations
 * need, and the slots its runners can use: two each, or those it was admitted for (the pool places
 * it in line from these).
 */
export function jobClaim(job: JobRecord, runners: number, slots?: number): JobClaim {
  const { params } = job;
  const left = Math.max(1, params.n_iter - (job.counted?.size ?? 0));
  const createdAt = Date.parse(job.created_at);
  const key = rateKey(params);
  const imageMs = 1000 * imageWork(params) * secondsPerUnit(key, DEFAULT_CALIBRATION);
  return {
    jobId: job.job_id,
    createdAt,
    work: left * params.batch_size * imageWork(params),
    rateKey: key,
    want: Math.min(slots ?? CALLS_PER_RUNNER * runners, CALLS_PER_RUNNER * runners, left),
    // Its whole work at the default calibration: the same for every runner, whatever is done.
    order: createdAt + Math.round(params.n_iter * params.batch_size * imageMs),
  };
}
