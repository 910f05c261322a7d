import { JobNotFoundError } from '../errors.ts';
import type { JobRecord } from '../job.ts';
import { runnerIterations } from '../plan.ts';
import type { IterationLedger, JobRecords } from '../ports.ts';
import type { FailedRunInput } from './task-io.ts';

type FailureDeps = {
  jobs: Pick<JobRecords, 'get'> & Pick<IterationLedger, 'recordIteration'>;
  now: () => Date;
};

export interface FailureReason {
  type: string;
  message: string;
}

/** Lambda errors arrive with a JSON Cause ({errorMessage, errorType, trace}); local ones with plain text. */
export function failureReason(error: FailedRunInput['error']): FailureReason {
  const cause = error.Cause ?? '';
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: unknown };
    if (typeof parsed.errorMessage === 'string') return { type: error.Error, message: parsed.errorMessage };
  } catch {
    // Not JSON: the cause is the message itself.
  }
  return { type: error.Error, message: cause.slice(0, 1000) };
}

/** Records one iteration as failed: its images count as failed, and the job goes on. */
export async function recordFailedIteration(
  job: JobRecord,
  iteration: number,
  reason: FailureReason,
  deps: FailureDeps,
): Promise<void> {
  await deps.jobs.recordIteration(
    {
      job_id: job.job_id,
      iteration,
      status: 'failed',
      image_count: job.params.batch_size,
      images: [],
      error: reason,
      finished_at: deps.now().toISOString(),
    },
    job.expires_at,
  );
}

/**
 * The Catch of a generate task whose retries ran out: every iteration of that runner not yet
 * finished is recorded as failed, with the task's error. Finished ones keep their images.
 */
export async function recordFailedRun(input: FailedRunInput, deps: FailureDeps) {
  const job = await deps.jobs.get(input.job_id);
  if (!job) throw new JobNotFoundError(input.job_id);
  const reason = failureReason(input.error);
  const left = runnerIterations(input.runner, input.runners, job.params.n_iter).filter(
    (i) => !job.counted?.has(i),
  );
  for (const iteration of left) await recordFailedIteration(job, iteration, reason, deps);
  return { runner: input.runner, failed: left.length };
}
