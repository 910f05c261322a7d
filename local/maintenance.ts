import { DeleteObjectsCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import {
  BatchWriteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  paginateQuery,
  paginateScan,
} from '@aws-sdk/lib-dynamodb';
import { contactSheetKey, IMAGE_PREFIX, INPUT_PREFIX } from '../core/image-key.ts';
import { ACTIVE_STATUSES } from '../core/job-status.ts';
import { workflowInput } from '../core/plan.ts';
import type { Orchestrator } from '../core/ports.ts';
import { ITERATION_SK_PREFIX, JOB_SK, jobPk } from '../lambdas/adapters/jobs-table.ts';

/**
 * Work the embedded stack does for itself that AWS does for the deployed one: Step Functions
 * survives restarts and DynamoDB expires items by TTL; dynalite and an in-process workflow do not.
 */
export interface MaintenanceDeps {
  db: DynamoDBDocumentClient;
  s3: S3Client;
  tableName: string;
  bucketName: string;
}

async function scanAll(
  deps: MaintenanceDeps,
  filter: string,
  values: Record<string, unknown>,
  names?: Record<string, string>,
) {
  const items: Record<string, unknown>[] = [];
  const pages = paginateScan(
    { client: deps.db },
    {
      TableName: deps.tableName,
      FilterExpression: filter,
      ExpressionAttributeValues: values,
      ExpressionAttributeNames: names,
      ConsistentRead: true,
    },
  );
  for await (const page of pages) items.push(...(page.Items ?? []));
  return items;
}

/** Starts the workflow again for every job a stop or crash left pending or running. */
export async function resumeUnfinishedJobs(
  deps: MaintenanceDeps,
  orchestrator: Orchestrator,
  concurrency: number,
): Promise<string[]> {
  const jobs = await scanAll(
    deps,
    `sk = :job AND #status IN (${ACTIVE_STATUSES.map((_, i) => `:s${i}`).join(', ')})`,
    { ':job': JOB_SK, ...Object.fromEntries(ACTIVE_STATUSES.map((s, i) => [`:s${i}`, s])) },
    { '#status': 'status' },
  );
  for (const job of jobs) {
    const params = job.params as { n_iter: number };
    // Finished iterations are skipped by the generate task, so a resumed job only does what is left.
    await orchestrator.start(
      String(job.job_id),
      workflowInput(String(job.job_id), params.n_iter, concurrency),
    );
  }
  return jobs.map((j) => String(j.job_id));
}

/**
 * Deletes every item whose TTL has passed, and with an expired job all of its items, images and
 * inputs. A job that has not ended has no TTL (see DynamoDbJobStore.transition), so it is never
 * swept; its iterations wait for it, so nothing of a live job goes.
 */
export async function sweepExpired(
  deps: MaintenanceDeps,
  nowSeconds: number,
): Promise<{ items: number; objects: number }> {
  const expired = await scanAll(deps, '#ttl <= :now', { ':now': nowSeconds }, { '#ttl': 'ttl' });
  const jobs = new Set(expired.filter((item) => item.sk === JOB_SK).map((item) => String(item.job_id)));
  const doomed: Record<string, unknown>[] = [];
  let objects = 0;
  for (const jobId of jobs) {
    doomed.push(...(await itemsOf(deps, jobId)));
    for (const prefix of [`${IMAGE_PREFIX}${jobId}/`, `${INPUT_PREFIX}${jobId}/`, contactSheetKey(jobId)])
      objects += await deletePrefix(deps, prefix);
  }
  for (const item of expired) {
    if (item.sk === JOB_SK || jobs.has(String(item.job_id))) continue;
    // An iteration goes with its job, not before it.
    if (String(item.sk).startsWith(ITERATION_SK_PREFIX) && (await jobExists(deps, String(item.job_id))))
      continue;
    doomed.push(item);
  }
  for (const prefix of [IMAGE_PREFIX, INPUT_PREFIX]) objects += await sweepOrphans(deps, prefix, nowSeconds);
  for (let i = 0; i < doomed.length; i += 25) {
    const chunk = doomed.slice(i, i + 25);
    await deps.db.send(
      new BatchWriteCommand({
        RequestItems: {
          [deps.tableName]: chunk.map((item) => ({ DeleteRequest: { Key: { pk: item.pk, sk: item.sk } } })),
        },
      }),
    );
  }
  return { items: doomed.length, objects };
}

/** Every item of the job: the job itself and its iterations. */
async function itemsOf(deps: MaintenanceDeps, jobId: string): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  const pages = paginateQuery(
    { client: deps.db },
    {
      TableName: deps.tableName,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': jobPk(jobId) },
      ProjectionExpression: 'pk, sk',
      ConsistentRead: true,
    },
  );
  for await (const page of pages) items.push(...(page.Items ?? []));
  return items;
}

async function jobExists(deps: MaintenanceDeps, jobId: string): Promise<boolean> {
  const { Item } = await deps.db.send(
    new GetCommand({
      TableName: deps.tableName,
      Key: { pk: jobPk(jobId), sk: JOB_SK },
      ConsistentRead: true,
    }),
  );
  return Item !== undefined;
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
    if (at < nowSeconds - 3600 && !(await jobExists(deps, jobId)))
      deleted += await deletePrefix(deps, `${prefix}${jobId}/`);
  }
  return deleted;
}
