import type { JobStore } from '../ports.ts';
import type { JobTaskInput } from './task-io.ts';

/** First state of every execution; a cancelled-before-start job stays cancelled. */
export async function markJobRunning(input: JobTaskInput, deps: { jobs: JobStore; now: () => Date }) {
  const moved = await deps.jobs.transition(input.job_id, ['pending'], 'running', deps.now().toISOString());
  return { job_id: input.job_id, running: moved };
}
