import { JobNotFoundError } from '../../core/errors.ts';
import { hasExpired, type JobRecord } from '../../core/job.ts';
import type { ToolContext } from '../deps.ts';

/** Another caller's job answers exactly like a job that does not exist. */
export async function getOwnedJob(ctx: ToolContext, jobId: string): Promise<JobRecord> {
  const job = await ctx.deps.jobs.get(jobId);
  if (!job || job.owner !== ctx.caller.id || hasExpired(job, ctx.deps.now().getTime())) {
    throw new JobNotFoundError(jobId);
  }
  return job;
}
