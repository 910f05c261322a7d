import { DeleteObjectsCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import {
  BatchWriteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  ScanCommand,
} from '@aws-sdk/lib-dynamodb';
import { contactSheetKey, IMAGE_PREFIX, INPUT_PREFIX } from '../core/image-key.ts';
import { workflowInput } from '../core/plan.ts';
import type { Orchestrator } from '../core/ports.ts';
import { JOB_SK, jobPk } from '../lambdas/adapters/jobs-table.ts';

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
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await deps.db.send(
      new ScanCommand({
        TableName: deps.tableName,
        FilterExpression: filter,
        ExpressionAttributeValues: values,
        ExpressionAttributeNames: names,
        ExclusiveStartKey: startKey,
        ConsistentRead: true,
      }),
    );
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
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
    'sk = :job AND #status IN (:pending, :running)',
    { ':job': JOB_SK, ':pending': 'pending', ':running': 'running' },
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

/** Deletes every item whose TTL has passed, and the images and inputs of expired jobs. */
export async function sweepExpired(
  deps: MaintenanceDeps,
  nowSeconds: number,
): Promise<{ items: number; objects: number }> {
  const expired = await scanAll(deps, '#ttl <= :now', { ':now': nowSeconds }, { '#ttl': 'ttl' });
  let objects = 0;
  for (const item of expired) {
    if (item.sk !== JOB_SK) continue;
    for (const prefix of [
      `${IMAGE_PREFIX}${item.job_id}/`,
      `${INPUT_PREFIX}${item.job_id}/`,
      contactSheetKey(String(item.job_id)),
    ])
      objects += await deletePrefix(deps, prefix);
  }
  objects += await sweepOrphanInputs(deps, nowSeconds);
  for (let i = 0; i < expired.length; i += 25) {
    const chunk = expired.slice(i, i + 25);
    await deps.db.send(
      new BatchWriteCommand({
        RequestItems: {
          [deps.tableName]: chunk.map((item) => ({ DeleteRequest: { Key: { pk: item.pk, sk: item.sk } } })),
        },
      }),
    );
  }
  return { items: expired.length, objects };
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
 * Inputs a refused start stored before it was refused have no job item to expire with them:
 * delete any under inputs/ whose job does not exist, an hour after they were written.
 */
async function sweepOrphanInputs(deps: MaintenanceDeps, nowSeconds: number): Promise<number> {
  const page = await deps.s3.send(
    new ListObjectsV2Command({ Bucket: deps.bucketName, Prefix: INPUT_PREFIX }),
  );
  const stale = (page.Contents ?? []).filter(
    (o) => (o.LastModified?.getTime() ?? 0) / 1000 < nowSeconds - 3600,
  );
  const jobIds = new Set(stale.map((o) => String(o.Key).split('/')[1]));
  let deleted = 0;
  for (const jobId of jobIds) {
    const { Item } = await deps.db.send(
      new GetCommand({ TableName: deps.tableName, Key: { pk: jobPk(String(jobId)), sk: JOB_SK } }),
    );
    if (!Item) deleted += await deletePrefix(deps, `${INPUT_PREFIX}${jobId}/`);
  }
  return deleted;
}
