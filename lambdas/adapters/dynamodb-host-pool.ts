import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { type HostRate, nextRate, type RateSample } from '../../core/estimate.ts';
import {
  chooseSlot,
  type HostSpec,
  hostRatesOf,
  isHealthy,
  type Lease,
  nextHealth,
  type PoolSnapshot,
  type SlotRefusal,
  WAITER_FRESH_MS,
} from '../../core/pool/host-pool.ts';
import type { FinishedLease, HostPool } from '../../core/ports.ts';
import { conditionally, wrote } from './conditional-write.ts';
import { POOL_PK_PREFIX } from './jobs-table.ts';

/** All of a pool's state in one partition, so one query reads it whole. */
const poolPk = (name: string) => `${POOL_PK_PREFIX}${name}`;
const slotSk = (hostId: string, slot: number) => `SLOT#${hostId}#${slot}`;
const healthSk = (hostId: string) => `HEALTH#${hostId}`;
const waiterSk = (jobId: string) => `WAIT#${jobId}`;
/** A slot's rate of one work class is a top-level attribute: SET on a map path fails until the map exists. */
const RATE_PREFIX = 'rate_';

function ratesOf(item: Record<string, unknown>): Record<string, number> | undefined {
  const entries = Object.entries(item)
    .filter(([name, value]) => name.startsWith(RATE_PREFIX) && typeof value === 'number')
    .map(([name, value]) => [name.slice(RATE_PREFIX.length), value as number] as const);
  return entries.length > 0 ? Object.fromEntries(entries) : undefined;
}

/**
 * What folds a finished call's measurement into its slot's average, for a release or a hand-over
 * write. The lease carries the slot's previous rates, so the average needs no read (DynamoDB
 * cannot multiply, hence it is computed here); only the slot's holder writes it, so no
 * measurement is lost to a race. `rates` are the slot's rates after the write.
 */
function rateUpdate({ lease, measured }: FinishedLease, now: number) {
  const rate = measured && nextRate(lease.rates?.[measured.key], measured.secondsPerUnit);
  if (!rate || !measured) return { sets: [], names: {}, values: {}, rates: lease.rates };
  return {
    sets: ['#rate = :rate', 'rated_at = :rated'],
    names: { ExpressionAttributeNames: { '#rate': `${RATE_PREFIX}${measured.key}` } },
    values: { ':rate': rate, ':rated': now },
    rates: { ...lease.rates, [measured.key]: rate },
  };
}

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
            rates: ratesOf(item),
            ratedAt: item.rated_at as number | undefined,
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

  async dropWaiter(jobId: string): Promise<void> {
    await this.db.send(
      new DeleteCommand({ TableName: this.tableName, Key: { pk: this.pk, sk: waiterSk(jobId) } }),
    );
  }

  async acquire(
    jobId: string,
    holder: string,
    leaseMs: number,
    done?: FinishedLease,
  ): Promise<Lease | SlotRefusal> {
    const now = this.clock();
    const snapshot = await this.snapshot();
    const isDone = (s: { hostId: string; slot: number }) =>
      done !== undefined && s.hostId === done.lease.hostId && s.slot === done.lease.slot;
    // The finished lease's slot counts as free: the pool decides as if it had been released.
    const view = done
      ? {
          ...snapshot,
          slots: snapshot.slots.map((s) =>
            isDone(s) && s.holder === done.lease.holder ? { ...s, holder: undefined } : s,
          ),
        }
      : snapshot;
    const choice = chooseSlot(this.hosts, view, jobId, now, holder);
    if ('wait' in choice) {
      if (done) await this.release(done.lease, done.measured);
      // An iteration already running is not waiting for a slot: no place in the queue.
      if (!choice.running) await this.markWaiting(jobId, snapshot, now);
      return choice;
    }
    // The condition is the guarantee: two workers that chose the same slot cannot both win it.
    // A lost race moves on to the next free slot rather than waiting a retry out.
    let won: { hostId: string; slot: number } | undefined;
    let handedOver: Record<string, number> | undefined;
    for (const candidate of [{ hostId: choice.hostId, slot: choice.slot }, ...choice.alternatives]) {
      if (done && isDone(candidate)) {
        // One write instead of a release and a lease: the slot passes from the old holder to the new.
        handedOver = await this.tryHandOver(done, jobId, holder, now, leaseMs);
        if (handedOver) {
          won = candidate;
          break;
        }
      } else if (await this.tryLease(candidate, jobId, holder, now, leaseMs)) {
        won = candidate;
        break;
      }
    }
    if (done && !handedOver) await this.release(done.lease, done.measured);
    if (!won) return { wait: 'other workers took every free slot first' };
    if (snapshot.waiters.some((w) => w.jobId === jobId)) await this.dropWaiter(jobId);
    const { hostId, slot } = won;
    const hostFailures = snapshot.health.find((h) => h.hostId === hostId)?.failures ?? 0;
    const rates = handedOver ?? snapshot.slots.find((s) => s.hostId === hostId && s.slot === slot)?.rates;
    return { hostId, slot, holder, jobId, hostFailures, ...(rates ? { rates } : {}) };
  }

  /**
   * Gives a finished lease's slot to a new holder, folding in the finished call's measurement as a
   * release would. Returns the slot's rates after the write, or undefined when the old holder no
   * longer held it (its lease lapsed and another worker took the slot).
   */
  private async tryHandOver(
    done: FinishedLease,
    jobId: string,
    holder: string,
    now: number,
    leaseMs: number,
  ): Promise<Record<string, number> | undefined> {
    const { lease } = done;
    const rated = rateUpdate(done, now);
    const ok = await wrote(
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: this.pk, sk: slotSk(lease.hostId, lease.slot) },
          UpdateExpression: `SET ${['holder = :holder', 'job_id = :job', 'lease_until = :until', ...rated.sets].join(', ')}`,
          ConditionExpression: 'holder = :old',
          ...rated.names,
          ExpressionAttributeValues: {
            ':holder': holder,
            ':job': jobId,
            ':until': now + leaseMs,
            ':old': lease.holder,
            ...rated.values,
          },
        }),
      ),
    );
    return ok ? { ...rated.rates } : undefined;
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

  async release(lease: Lease, measured?: RateSample): Promise<void> {
    // The measurement rides on the release: the slot item is written anyway.
    const rated = rateUpdate({ lease, measured }, this.clock());
    // A lease that expired and went to another worker is theirs now: nothing to release or record.
    await conditionally(
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: this.pk, sk: slotSk(lease.hostId, lease.slot) },
          UpdateExpression: `${rated.sets.length > 0 ? `SET ${rated.sets.join(', ')} ` : ''}REMOVE holder, job_id, lease_until`,
          ConditionExpression: 'holder = :holder',
          ...rated.names,
          ExpressionAttributeValues: { ':holder': lease.holder, ...rated.values },
        }),
      ),
    );
  }

  async reportHealth(lease: Lease, ok: boolean): Promise<boolean> {
    // A success on a host that had no failures when leased changes nothing: no read, no write.
    if (ok && lease.hostFailures === 0) return false;
    const { hostId } = lease;
    const now = this.clock();
    const key = { pk: this.pk, sk: healthSk(hostId) };
    if (ok) {
      const current = (await this.snapshot()).health.find((h) => h.hostId === hostId);
      if ((current?.failures ?? 0) === 0) return false;
      const next = nextHealth(current, hostId, true, now);
      await this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...key, host_id: hostId, failures: next.failures },
        }),
      );
      return false;
    }
    // Calls on one host fail together: count with an atomic ADD, or concurrent failures would
    // overwrite each other's count and the host would rest late.
    const { Attributes } = await this.db.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: key,
        UpdateExpression: 'SET host_id = :host ADD failures :one',
        ExpressionAttributeValues: { ':host': hostId, ':one': 1 },
        ReturnValues: 'ALL_NEW',
      }),
    );
    const counted = { hostId, failures: Number(Attributes?.failures ?? 1) - 1 };
    const next = nextHealth(counted, hostId, false, now);
    if (next.unhealthyUntil === undefined) return false;
    await this.db.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: key,
        UpdateExpression: 'SET unhealthy_until = :until',
        ExpressionAttributeValues: { ':until': next.unhealthyUntil },
      }),
    );
    return true;
  }

  async hostRates(): Promise<HostRate[]> {
    return hostRatesOf(this.hosts, await this.snapshot(), this.clock());
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
