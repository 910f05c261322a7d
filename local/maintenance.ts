import { DeleteObjectsCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { contactSheetKey, IMAGE_PREFIX, INPUT_PREFIX } from '../core/image-key.ts';
import { workflowInput } from '../core/plan.ts';
import type { JobHousekeeping, JobRecords, Orchestrator } from '../core/ports.ts';

/**
 * Work the embedded stack does for itself that AWS does for the deployed one: Step Functions
 * survives restarts and DynamoDB expires items by TTL; dynalite and an in-process workflow do not.
 */
export interface MaintenanceDeps {
  housekeeping: JobHousekeeping;
  jobs: Pick<JobRecords, 'get'>;
  s3: S3Client;
  bucketName: string;
}

/** Starts the workflow again for every job a stop or crash left pending or running. */
export async function resumeUnfinishedJobs(
  deps: MaintenanceDeps,
  orchestrator: Orchestrator,
  concurrency: number,
): Promise<string[]> {
  const jobs = await deps.housekeeping.activeJobs();
  for (const job of jobs) {
    // Finished iterations are skipped by the generate task, so a resumed job only does what is left.
    await orchestrator.start(job.job_id, workflowInput(job.job_id, job.params.n_iter, concurrency));
  }
  return jobs.map((j) => j.job_id);
}

/**
 * Deletes every item whose TTL has passed, and with an expired job all of its items, images and
 * inputs. A job that has not ended never expires; its iterations wait for it, so nothing of a
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
      objects += await deletePrefix(deps, prefix);
    items += await deps.housekeeping.deleteJob(jobId);
  }
  items += await deps.housekeeping.deleteExpiredItems(nowSeconds);
  for (const prefix of [IMAGE_PREFIX, INPUT_PREFIX]) objects += await sweepOrphans(deps, prefix, nowSeconds);
  return { items, objects };
}

async function deletePrefix(deps: MaintenanceDeps, prefix: string): Promise<number> {
  let deleted = 0;
  let token: string | undefined;
  do {
    const page = await deps.s3.send(
      new ListObjectsV2Command({ Bucket: deps.bucketName, Prefix: prefix, ContinuationToken: token }),
    );
    const keys = (page.Contents ?? []).map((o) => ({ Key: o.Key as string }));
    if (keys.length > 0) {
      await deps.s3.send(new DeleteObjectsCommand({ Bucket: deps.bucketName, Delete: { Objects: keys } }));
      deleted += keys.length;
    }
    token = page.NextContinuationToken;
  } while (token);
  return deleted;
}

/**
 * Objects under `prefix` (jobs/ or inputs/) of a job that does not exist: inputs a refused start
 * stored, images a worker wrote for a job deleted under it. Deleted once the job's newest object
 * is an hour old, so a start still storing its job keeps its inputs.
 */
async function sweepOrphans(deps: MaintenanceDeps, prefix: string, nowSeconds: number): Promise<number> {
  const newest = new Map<string, number>();
  let token: string | undefined;
  do {
    const page = await deps.s3.send(
      new ListObjectsV2Command({ Bucket: deps.bucketName, Prefix: prefix, ContinuationToken: token }),
    );
    for (const o of page.Contents ?? []) {
      const jobId = String(o.Key).slice(prefix.length).split('/')[0] as string;
      const at = (o.LastModified?.getTime() ?? 0) / 1000;
      newest.set(jobId, Math.max(newest.get(jobId) ?? 0, at));
    }
    token = page.NextContinuationToken;
  } while (token);
  let deleted = 0;
  for (const [jobId, at] of newest) {
    if (at < nowSeconds - 3600 && !(await deps.jobs.get(jobId)))
      deleted += await deletePrefix(deps, `${prefix}${jobId}/`);
  }
  return deleted;
}
