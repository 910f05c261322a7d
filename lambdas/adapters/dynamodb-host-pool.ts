import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import {
  chooseSlot,
  type HostHealth,
  type HostSpec,
  isHealthy,
  type Lease,
  nextHealth,
  type PoolSnapshot,
  WAITER_FRESH_MS,
} from '../../core/pool/host-pool.ts';
import type { HostPool } from '../../core/ports.ts';
import { conditionally, wrote } from './conditional-write.ts';

/** All of a pool's state in one partition, so one query reads it whole. */
const poolPk = (name: string) => `POOL#${name}`;
const slotSk = (hostId: string, slot: number) => `SLOT#${hostId}#${slot}`;
const healthSk = (hostId: string) => `HEALTH#${hostId}`;
const waiterSk = (jobId: string) => `WAIT#${jobId}`;

export class DynamoDbHostPool implements HostPool {
  readonly hosts: HostSpec[];
  private readonly db: DynamoDBDocumentClient;
  private readonly tableName: string;
  private readonly clock: () => number;
  private readonly pk: string;

  constructor(
    db: DynamoDBDocumentClient,
    tableName: string,
    hosts: HostSpec[],
    options: { clock?: () => number; name?: string } = {},
  ) {
    this.db = db;
    this.tableName = tableName;
    this.hosts = hosts;
    this.clock = options.clock ?? Date.now;
    this.pk = poolPk(options.name ?? 'default');
  }

  async snapshot(): Promise<PoolSnapshot> {
    const snapshot: PoolSnapshot = { slots: [], health: [], waiters: [] };
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.db.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pool',
          ExpressionAttributeValues: { ':pool': this.pk },
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) {
        const sk = String(item.sk);
        if (sk.startsWith('SLOT#')) {
          snapshot.slots.push({
            hostId: String(item.host_id),
            slot: Number(item.slot),
            holder: item.holder as string | undefined,
            jobId: item.job_id as string | undefined,
            leaseUntil: item.lease_until as number | undefined,
          });
        } else if (sk.startsWith('HEALTH#')) {
          snapshot.health.push({
            hostId: String(item.host_id),
            failures: Number(item.failures ?? 0),
            unhealthyUntil: item.unhealthy_until as number | undefined,
          });
        } else if (sk.startsWith('WAIT#')) {
          snapshot.waiters.push({
            jobId: String(item.job_id),
            since: Number(item.since),
            seen: Number(item.seen),
          });
        }
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return snapshot;
  }

  async acquire(jobId: string, holder: string, leaseMs: number): Promise<Lease | { wait: string }> {
    const now = this.clock();
    const snapshot = await this.snapshot();
    const choice = chooseSlot(this.hosts, snapshot, jobId, now);
    if ('wait' in choice) {
      await this.markWaiting(jobId, snapshot, now);
      return choice;
    }
    // The condition is the guarantee: two workers that chose the same slot cannot both win it.
    // A lost race moves on to the next free slot rather than waiting a retry out.
    let won: { hostId: string; slot: number } | undefined;
    for (const candidate of [{ hostId: choice.hostId, slot: choice.slot }, ...choice.alternatives]) {
      if (await this.tryLease(candidate, jobId, holder, now, leaseMs)) {
        won = candidate;
        break;
      }
    }
    if (!won) return { wait: 'other workers took every free slot first' };
    if (snapshot.waiters.some((w) => w.jobId === jobId)) {
      await this.db.send(
        new DeleteCommand({ TableName: this.tableName, Key: { pk: this.pk, sk: waiterSk(jobId) } }),
      );
    }
    const { hostId, slot } = won;
    const hostFailures = snapshot.health.find((h) => h.hostId === hostId)?.failures ?? 0;
    return { hostId, slot, holder, jobId, hostFailures };
  }

  private async tryLease(
    target: { hostId: string; slot: number },
    jobId: string,
    holder: string,
    now: number,
    leaseMs: number,
  ): Promise<boolean> {
    return wrote(
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: this.pk, sk: slotSk(target.hostId, target.slot) },
          UpdateExpression:
            'SET host_id = :host, slot = :slot, holder = :holder, job_id = :job, lease_until = :until',
          ConditionExpression: 'attribute_not_exists(lease_until) OR lease_until <= :now OR holder = :holder',
          ExpressionAttributeValues: {
            ':host': target.hostId,
            ':slot': target.slot,
            ':holder': holder,
            ':job': jobId,
            ':until': now + leaseMs,
            ':now': now,
          },
        }),
      ),
    );
  }

  async release(lease: Lease): Promise<void> {
    // A lease that expired and went to another worker is theirs now: nothing to release.
    await conditionally(
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: this.pk, sk: slotSk(lease.hostId, lease.slot) },
          UpdateExpression: 'REMOVE holder, job_id, lease_until',
          ConditionExpression: 'holder = :holder',
          ExpressionAttributeValues: { ':holder': lease.holder },
        }),
      ),
    );
  }

  async reportHealth(lease: Lease, ok: boolean): Promise<boolean> {
    // A success on a host that had no failures when leased changes nothing: no read, no write.
    if (ok && lease.hostFailures === 0) return false;
    const { hostId } = lease;
    const now = this.clock();
    const current = (await this.snapshot()).health.find((h) => h.hostId === hostId);
    if (ok && (current?.failures ?? 0) === 0) return false;
    const next: HostHealth = nextHealth(current, hostId, ok, now);
    await this.db.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          pk: this.pk,
          sk: healthSk(hostId),
          host_id: hostId,
          failures: next.failures,
          ...(next.unhealthyUntil ? { unhealthy_until: next.unhealthyUntil } : {}),
        },
      }),
    );
    return !isHealthy(next, now);
  }

  async resting(): Promise<string[]> {
    const now = this.clock();
    return (await this.snapshot()).health.filter((h) => !isHealthy(h, now)).map((h) => h.hostId);
  }

  /**
   * Drops every lease: only for a single-process owner of the pool (the embedded stack) at start,
   * when any lease left is a killed process's and would idle its slot until it lapsed.
   */
  async clearLeases(): Promise<number> {
    const live = (await this.snapshot()).slots.filter((s) => s.holder !== undefined);
    for (const slot of live) {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: this.pk, sk: slotSk(slot.hostId, slot.slot) },
          UpdateExpression: 'REMOVE holder, job_id, lease_until',
        }),
      );
    }
    return live.length;
  }

  private async markWaiting(jobId: string, snapshot: PoolSnapshot, now: number): Promise<void> {
    // The first refusal starts the wait; later ones keep its start so the order is first come.
    const since =
      snapshot.waiters.find((w) => w.jobId === jobId && now - w.seen < WAITER_FRESH_MS)?.since ?? now;
    await this.db.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          pk: this.pk,
          sk: waiterSk(jobId),
          job_id: jobId,
          since,
          seen: now,
          ttl: Math.floor(now / 1000) + 3600,
        },
      }),
    );
  }
}
