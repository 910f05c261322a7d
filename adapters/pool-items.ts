import { type DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { PoolSnapshot } from '../core/pool/host-pool.ts';
import { ADMISSION_RUNNER, type JobClaim, type Waiter } from '../core/pool/waiters.ts';
import { POOL_PK_PREFIX } from './jobs-table.ts';

/**
 * A pool's slots and hosts' health share one partition, read whole by a decision that needs a
 * free slot (a few hundred bytes a slot). Its queue has a partition of its own, of which a
 * decision reads only the head (see readLine), and whose waiters' tokens are items apart.
 */
export const poolPk = (name: string) => `${POOL_PK_PREFIX}${name}`;
export const queuePk = (name: string) => `${poolPk(name)}#QUEUE`;
export const slotSk = (hostId: string, slot: number) => `SLOT#${hostId}#${slot}`;
export const healthSk = (hostId: string) => `HEALTH#${hostId}`;

const LINE_PREFIX = 'LINE#';
const runnerKey = (runner: number) => (runner === ADMISSION_RUNNER ? 'job' : String(runner).padStart(3, '0'));
/** Sorts the queue by the job's order (see JobClaim.order), then job and runner. */
export const lineSk = (claim: Pick<JobClaim, 'jobId' | 'createdAt' | 'order'>, runner: number) =>
  `${LINE_PREFIX}${String(Math.max(0, Math.round(claim.order ?? claim.createdAt))).padStart(16, '0')}#${claim.jobId}#${runnerKey(runner)}`;
/** The waiting task's token, apart from its place in line: read only to wake it. */
export const tokenSk = (jobId: string, runner: number) => `TOKEN#${jobId}#${runnerKey(runner)}`;

/**
 * Waiters a decision reads from the head of the line: the places first in storage order. Enough
 * for the jobs ahead to keep the slots they can use; a line longer than this is read no further.
 */
export const LINE_WINDOW = 16;

/** A slot's rate of one work class is a top-level attribute: SET on a map path fails until the map exists. */
export const RATE_PREFIX = 'rate_';

export function ratesOf(item: Record<string, unknown>): Record<string, number> | undefined {
  const entries = Object.entries(item)
    .filter(([name, value]) => name.startsWith(RATE_PREFIX) && typeof value === 'number')
    .map(([name, value]) => [name.slice(RATE_PREFIX.length), value as number] as const);
  return entries.length > 0 ? Object.fromEntries(entries) : undefined;
}

const num = (value: unknown) => (typeof value === 'number' ? value : undefined);

/** A job's claim as a lease records it (claim_* attributes), if it has one. */
function leaseClaim(item: Record<string, unknown>): JobClaim | undefined {
  if (typeof item.claim_work !== 'number' || typeof item.job_id !== 'string') return undefined;
  return {
    jobId: item.job_id,
    createdAt: Number(item.claim_created),
    work: item.claim_work,
    rateKey: String(item.claim_key),
    want: Number(item.want ?? 1),
  };
}

/** The attributes a lease records its job's claim in. */
export const leaseClaimAttributes = (claim: JobClaim) => ({
  claim_created: claim.createdAt,
  claim_work: claim.work,
  claim_key: claim.rateKey,
  want: claim.want,
});

/** Adds one item of the pool's partition to the snapshot it belongs in. */
function addItem(snapshot: PoolSnapshot, item: Record<string, unknown>): void {
  const sk = String(item.sk);
  if (sk.startsWith('SLOT#')) {
    snapshot.slots.push({
      hostId: String(item.host_id),
      slot: Number(item.slot),
      holder: item.holder as string | undefined,
      jobId: item.job_id as string | undefined,
      leaseUntil: num(item.lease_until),
      rates: ratesOf(item),
      ratedAt: num(item.rated_at),
      claim: leaseClaim(item),
    });
  } else if (sk.startsWith('HEALTH#')) {
    snapshot.health.push({
      hostId: String(item.host_id),
      failures: Number(item.failures ?? 0),
      unhealthyUntil: num(item.unhealthy_until),
      failingSince: num(item.failing_since),
      lastError: typeof item.last_error === 'string' ? item.last_error : undefined,
    });
  }
  // (Waiter items of the designs before this one, kept in this partition, are skipped.)
}

/** A waiter from its line item (see DynamoDbPoolQueue). */
function lineWaiter(item: Record<string, unknown>): Waiter & { sk: string } {
  const jobId = String(item.job_id);
  const runner = Number(item.runner);
  return {
    sk: String(item.sk),
    jobId,
    runner,
    createdAt: Number(item.created),
    order: Number(item.order ?? item.created),
    work: Number(item.work),
    rateKey: String(item.rate_key),
    want: Number(item.want ?? 1),
    since: Number(item.since),
    askUntil: Number(item.ask_until ?? 0),
    ...(item.registered ? { token: tokenSk(jobId, runner) } : {}),
    wokenAt: num(item.woken_at),
    ...(Array.isArray(item.assigned) ? { assigned: item.assigned.map(String) } : {}),
  };
}

/** The head of the pool's line: its first LINE_WINDOW waiters, in storage order, read consistently. */
export async function readLine(
  db: DynamoDBDocumentClient,
  tableName: string,
  pk: string,
  limit = LINE_WINDOW,
): Promise<Array<Waiter & { sk: string }>> {
  const { Items = [] } = await db.send(
    new QueryCommand({
      TableName: tableName,
      KeyConditionExpression: 'pk = :queue AND begins_with(sk, :line)',
      ExpressionAttributeValues: { ':queue': pk, ':line': LINE_PREFIX },
      ConsistentRead: true,
      Limit: limit,
    }),
  );
  return Items.map(lineWaiter);
}

/**
 * The pool's slots and health in one query (paged if it must); no waiters. Consistent unless the
 * reader only looks (an eventually consistent read costs half).
 */
export async function readPool(
  db: DynamoDBDocumentClient,
  tableName: string,
  pk: string,
  consistent = true,
): Promise<PoolSnapshot> {
  const snapshot: PoolSnapshot = { slots: [], health: [], waiters: [] };
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await db.send(
      new QueryCommand({
        TableName: tableName,
        KeyConditionExpression: 'pk = :pool',
        ExpressionAttributeValues: { ':pool': pk },
        ConsistentRead: consistent,
        ExclusiveStartKey: startKey,
      }),
    );
    for (const item of page.Items ?? []) addItem(snapshot, item);
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return snapshot;
}
