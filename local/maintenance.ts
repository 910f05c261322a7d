import { contactSheetKey, IMAGE_PREFIX, INPUT_PREFIX } from '../core/image-key.ts';
import { hasExpired } from '../core/job.ts';
import { workflowInput } from '../core/plan.ts';
import type { ImageHousekeeping, JobHousekeeping, JobRecords, Orchestrator } from '../core/ports.ts';

/**
 * Work the embedded stack does for itself that AWS does for the deployed one: Step Functions
 * survives restarts and DynamoDB expires items by TTL; dynalite and an in-process workflow do not.
 */
export interface MaintenanceDeps {
  housekeeping: JobHousekeeping;
  jobs: Pick<JobRecords, 'get'>;
  images: ImageHousekeeping;
}

/**
 * Starts the workflow again for every job a stop or crash left pending or running, except a
 * pending one past its retention: it has expired (hasExpired), and the sweep deletes it.
 */
export async function resumeUnfinishedJobs(
  deps: MaintenanceDeps,
  orchestrator: Orchestrator,
  nowMs: number,
): Promise<string[]> {
  const jobs = (await deps.housekeeping.activeJobs()).filter((job) => !hasExpired(job, nowMs));
  for (const job of jobs) {
    // Finished iterations are skipped by the generate task, so a resumed job only does what is left.
    await orchestrator.start(job.job_id, workflowInput(job));
  }
  return jobs.map((j) => j.job_id);
}

/**
 * Deletes every item whose TTL has passed, and with an expired job all of its items, images and
 * inputs. A running job never expires; its iterations wait for it, so nothing of a
 * live job goes.
 */
export async function sweepExpired(
  deps: MaintenanceDeps,
  nowSeconds: number,
): Promise<{ items: number; objects: number }> {
  let items = 0;
  let objects = 0;
  for (const jobId of await deps.housekeeping.expiredJobs(nowSeconds)) {
    for (const prefix of [`${IMAGE_PREFIX}${jobId}/`, `${INPUT_PREFIX}${jobId}/`, contactSheetKey(jobId)])
      objects += await deps.images.deletePrefix(prefix);
    items += await deps.housekeeping.deleteJob(jobId);
  }
  items += await deps.housekeeping.deleteExpiredItems(nowSeconds);
  for (const prefix of [IMAGE_PREFIX, INPUT_PREFIX]) objects += await sweepOrphans(deps, prefix, nowSeconds);
  return { items, objects };
}

/**
 * Objects under `prefix` (jobs/ or inputs/) of a job that does not exist: inputs a refused start
 * stored, images a worker wrote for a job deleted under it. Deleted once the job's newest object
 * is an hour old, so a start still storing its job keeps its inputs.
 */
async function sweepOrphans(deps: MaintenanceDeps, prefix: string, nowSeconds: number): Promise<number> {
  let deleted = 0;
  for (const [jobId, at] of await deps.images.newestUnder(prefix)) {
    if (at < nowSeconds - 3600 && !(await deps.jobs.get(jobId)))
      deleted += await deps.images.deletePrefix(`${prefix}${jobId}/`);
  }
  return deleted;
}
