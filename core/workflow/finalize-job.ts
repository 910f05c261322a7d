import { JobNotFoundError } from '../errors.ts';
import type { JobRecord, JobStatus } from '../job.ts';
import { sourcesOf } from '../job-status.ts';
import type { HostPool, JobRecords } from '../ports.ts';
import type { JobTaskInput } from './task-io.ts';

/** How a job ended, from its counters: all images, some, or none. */
export function finalStatus(job: Pick<JobRecord, 'completed_images' | 'total_images'>): JobStatus {
  if (job.completed_images >= job.total_images) return 'completed';
  return job.completed_images > 0 ? 'partial' : 'failed';
}

export async function finalizeJob(
  input: JobTaskInput,
  deps: {
    jobs: Pick<JobRecords, 'get' | 'transition'>;
    pool: Pick<HostPool, 'dropWaiters'>;
    now: () => Date;
  },
) {
  const job = await deps.jobs.get(input.job_id);
  if (!job) throw new JobNotFoundError(input.job_id);
  const status = finalStatus(job);
  // A cancelled job keeps its status: the transition only applies to a job still in flight.
  await deps.jobs.transition(job.job_id, sourcesOf(status), status, deps.now().toISOString());
  // Its runners are all done: a place left in the GPU queue (a runner that died waiting) goes.
  await deps.pool.dropWaiters(job.job_id);
  return { job_id: job.job_id, status };
}
