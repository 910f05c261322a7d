import { JobNotFoundError } from '../errors.ts';
import type { JobStore } from '../ports.ts';
import type { FailedIterationInput } from './task-io.ts';

/** Lambda errors arrive with a JSON Cause ({errorMessage, errorType, trace}); local ones with plain text. */
export function failureReason(error: FailedIterationInput['error']): { type: string; message: string } {
  const cause = error.Cause ?? '';
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: unknown };
    if (typeof parsed.errorMessage === 'string') return { type: error.Error, message: parsed.errorMessage };
  } catch {
    // Not JSON: the cause is the message itself.
  }
  return { type: error.Error, message: cause.slice(0, 1000) };
}

export async function recordFailedIteration(
  input: FailedIterationInput,
  deps: { jobs: JobStore; now: () => Date },
) {
  const job = await deps.jobs.get(input.job_id);
  if (!job) throw new JobNotFoundError(input.job_id);
  await deps.jobs.recordIteration(
    {
      job_id: input.job_id,
      iteration: input.iteration,
      status: 'failed',
      image_count: job.params.batch_size,
      images: [],
      error: failureReason(input.error),
      finished_at: deps.now().toISOString(),
    },
    job.expires_at,
  );
  return { iteration: input.iteration, images: 0, skipped: false };
}
