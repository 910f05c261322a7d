import { type DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { PoolSnapshot } from '../core/pool/host-pool.ts';
import type { JobClaim } from '../core/pool/waiters.ts';
import { POOL_PK_PREFIX } from './jobs-table.ts';

/** All of a pool's state in one partition, so one query reads it whole. */
export const poolPk = (name: string) => `${POOL_PK_PREFIX}${name}`;
export const slotSk = (hostId: string, slot: number) => `SLOT#${hostId}#${slot}`;
export const healthSk = (hostId: string) => `HEALTH#${hostId}`;
export const waiterSk = (jobId: string, runner: number) => `WAIT#${jobId}#${runner}`;
export const waiterPrefix = (jobId: string) => `WAIT#${jobId}#`;

/** A slot's rate of one work class is a top-level attribute: SET on a map path fails until the map exists. */
export const RATE_PREFIX = 'rate_';

function ratesOf(item: Record<string, unknown>): Record<string, number> | undefined {
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
  } else if (sk.startsWith('WAIT#') && typeof item.work === 'number') {
    // (Waiter items of the polling design before this one claim no work: skipped.)
    snapshot.waiters.push({
      jobId: String(item.job_id),
      runner: Number(item.runner),
      createdAt: Number(item.created),
      work: item.work,
      rateKey: String(item.rate_key),
      want: Number(item.want ?? 1),
      since: Number(item.since),
      askUntil: Number(item.ask_until ?? 0),
      token: item.token as string | undefined,
      wokenAt: num(item.woken_at),
      beatAt: num(item.beat_at),
    });
  }
}

/** Everything the pool's partition holds, read consistently in one query (paged if it must). */
export async function readPool(
  db: DynamoDBDocumentClient,
  tableName: string,
  pk: string,
): Promise<PoolSnapshot> {
  const snapshot: PoolSnapshot = { slots: [], health: [], waiters: [] };
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await db.send(
      new QueryCommand({
        TableName: tableName,
        KeyConditionExpression: 'pk = :pool',
        ExpressionAttributeValues: { ':pool': pk },
        ConsistentRead: true,
        ExclusiveStartKey: startKey,
      }),
    );
    for (const item of page.Items ?? []) addItem(snapshot, item);
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return snapshot;
}
