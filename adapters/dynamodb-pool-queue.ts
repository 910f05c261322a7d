import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { TaskGoneError } from '../core/errors.ts';
import type { Calibration } from '../core/estimate.ts';
import {
  freeSlotCount,
  type HostSpec,
  type PoolSnapshot,
  placerFor,
  poolContenders,
} from '../core/pool/host-pool.ts';
import {
  heartbeatsDue,
  type JobClaim,
  planWakes,
  REGISTER_GRACE_MS,
  WAKE_GRACE_MS,
  type Waiter,
  waiterState,
} from '../core/pool/waiters.ts';
import type { TaskCallbacks } from '../core/ports.ts';
import { conditionally, wrote } from './conditional-write.ts';
import { readPool, waiterPrefix, waiterSk } from './pool-items.ts';

/** A waiter item's claim attributes. */
const claimAttributes = (claim: JobClaim) => ({
  job_id: claim.jobId,
  created: claim.createdAt,
  work: claim.work,
  rate_key: claim.rateKey,
  want: claim.want,
});

/** Waiter items outlive any wait they stand for; TTL removes what a crash leaves behind. */
const WAITER_TTL_SECONDS = 7 * 86_400;
/** Passes over the queue when wake-ups find their tasks gone (each pass drops those). */
const WAKE_PASSES = 3;

export interface PoolQueueOptions {
  db: DynamoDBDocumentClient;
  tableName: string;
  pk: string;
  hosts: HostSpec[];
  clock: () => number;
  calibration: Calibration;
  /** What wakes a waiting task; without it (the gateway) the queue is only read. */
  callbacks?: TaskCallbacks;
}

/**
 * The waiting runners of a pool, one item each beside the pool's slots (see core/pool/waiters.ts
 * for the order). Every write that can race is conditional on the waiter's token, so two
 * workers sweeping at once wake a runner once.
 */
export class DynamoDbPoolQueue {
  private readonly o: PoolQueueOptions;

  constructor(options: PoolQueueOptions) {
    this.o = options;
  }

  private key(jobId: string, runner: number) {
    return { pk: this.o.pk, sk: waiterSk(jobId, runner) };
  }

  /**
   * A refused runner takes its place in line (kept from its first refusal, its claim refreshed),
   * claiming its room until `askUntil`.
   */
  async markWaiting(
    claim: JobClaim,
    runner: number,
    snapshot: PoolSnapshot,
    now: number,
    askUntil = now + REGISTER_GRACE_MS,
  ): Promise<void> {
    const mine = snapshot.waiters.find((w) => w.jobId === claim.jobId && w.runner === runner);
    const since = mine && waiterState(mine, now) !== 'stale' ? mine.since : now;
    await this.o.db.send(
      new PutCommand({
        TableName: this.o.tableName,
        Item: {
          ...this.key(claim.jobId, runner),
          ...claimAttributes(claim),
          runner,
          since,
          ask_until: askUntil,
          ttl: Math.floor(now / 1000) + WAITER_TTL_SECONDS,
        },
      }),
    );
  }

  /** The runner's Wait state is in place: its token is what wakes it. */
  async register(claim: JobClaim, runner: number, token: string): Promise<void> {
    const now = this.o.clock();
    await this.o.db.send(
      new UpdateCommand({
        TableName: this.o.tableName,
        Key: this.key(claim.jobId, runner),
        UpdateExpression:
          'SET job_id = :job, runner = :runner, created = :created, #work = :work, rate_key = :key, want = :want, ' +
          '#token = :token, beat_at = :now, since = if_not_exists(since, :now), #ttl = :ttl ' +
          'REMOVE woken_at, ask_until',
        ExpressionAttributeNames: { '#token': 'token', '#ttl': 'ttl', '#work': 'work' },
        ExpressionAttributeValues: {
          ':job': claim.jobId,
          ':runner': runner,
          ':created': claim.createdAt,
          ':work': claim.work,
          ':key': claim.rateKey,
          ':want': claim.want,
          ':token': token,
          ':now': now,
          ':ttl': Math.floor(now / 1000) + WAITER_TTL_SECONDS,
        },
      }),
    );
  }

  /** The runner got its slot: it no longer waits. */
  /** Removes a runner's place; true when it had one. */
  async leave(jobId: string, runner: number): Promise<boolean> {
    const { Attributes } = await this.o.db.send(
      new DeleteCommand({
        TableName: this.o.tableName,
        Key: this.key(jobId, runner),
        ReturnValues: 'ALL_OLD',
      }),
    );
    return Attributes !== undefined;
  }

  /** Every waiting runner of a job leaves the queue (the job has ended). */
  async dropAll(jobId: string): Promise<void> {
    const { Items = [] } = await this.o.db.send(
      new QueryCommand({
        TableName: this.o.tableName,
        KeyConditionExpression: 'pk = :pool AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: { ':pool': this.o.pk, ':prefix': waiterPrefix(jobId) },
        ConsistentRead: true,
      }),
    );
    for (const item of Items) {
      await this.o.db.send(
        new DeleteCommand({ TableName: this.o.tableName, Key: { pk: this.o.pk, sk: item.sk } }),
      );
    }
  }

  /**
   * Wakes the runners whose turn it is now, sends the others their heartbeat, and forgets runners
   * that never registered or whose task is gone. Safe to run from any worker at any time.
   * `released`: a job that just gave a slot back because it had nothing to run on it; the room its
   * other leases claimed when they were taken is not kept for it (a runner of it that wants more
   * asks, or waits in the queue, like anyone).
   */
  async sweep(released?: string): Promise<void> {
    const { callbacks } = this.o;
    if (!callbacks) return;
    let snapshot = await readPool(this.o.db, this.o.tableName, this.o.pk);
    for (let pass = 0; pass < WAKE_PASSES; pass++) {
      const now = this.o.clock();
      for (const w of snapshot.waiters.filter((x) => waiterState(x, now) === 'stale')) await this.forget(w);
      const place = placerFor(snapshot, this.o.calibration);
      const line = poolContenders(snapshot, now, place).map((c) =>
        c.jobId === released && c.wakeable.length === 0 ? { ...c, unmet: 0 } : c,
      );
      const wakes = planWakes(line, freeSlotCount(this.o.hosts, snapshot, now));
      let gone = 0;
      for (const w of wakes) if (!(await this.wake(w, now, callbacks))) gone++;
      if (pass === 0) {
        const woken = new Set(wakes.map((w) => w.token));
        for (const w of heartbeatsDue(snapshot.waiters, now)) {
          if (!woken.has(w.token)) await this.beat(w, now, callbacks);
        }
      }
      if (gone === 0) return;
      // Tasks that were gone freed their places: the slots may be someone else's now.
      snapshot = await readPool(this.o.db, this.o.tableName, this.o.pk);
    }
  }

  /** Wakes one runner, once: false when its task turned out to be gone (its item is dropped). */
  private async wake(w: Waiter, now: number, callbacks: TaskCallbacks): Promise<boolean> {
    const claimed = await wrote(
      this.o.db.send(
        new UpdateCommand({
          TableName: this.o.tableName,
          Key: this.key(w.jobId, w.runner),
          UpdateExpression: 'SET woken_at = :now',
          // Not woken yet, or woken so long ago that the wake-up was lost.
          ConditionExpression: '#token = :token AND (attribute_not_exists(woken_at) OR woken_at <= :lost)',
          ExpressionAttributeNames: { '#token': 'token' },
          ExpressionAttributeValues: { ':now': now, ':token': w.token, ':lost': now - WAKE_GRACE_MS },
        }),
      ),
    );
    if (!claimed) return true;
    try {
      await callbacks.succeed(w.token as string, { woken_at: new Date(now).toISOString() });
      return true;
    } catch (error) {
      if (!(error instanceof TaskGoneError)) {
        // Throttled or unreachable: the claim lapses after WAKE_GRACE_MS and a later sweep retries.
        console.error(`waking ${w.jobId} runner ${w.runner} failed`, error);
        return true;
      }
      await this.forget(w);
      return false;
    }
  }

  private async beat(w: Waiter, now: number, callbacks: TaskCallbacks): Promise<void> {
    try {
      await callbacks.heartbeat(w.token as string);
    } catch (error) {
      if (error instanceof TaskGoneError) await this.forget(w);
      else console.error(`heartbeat to ${w.jobId} runner ${w.runner} failed`, error);
      return;
    }
    await conditionally(
      this.o.db.send(
        new UpdateCommand({
          TableName: this.o.tableName,
          Key: this.key(w.jobId, w.runner),
          UpdateExpression: 'SET beat_at = :now',
          ConditionExpression: '#token = :token',
          ExpressionAttributeNames: { '#token': 'token' },
          ExpressionAttributeValues: { ':now': now, ':token': w.token },
        }),
      ),
    );
  }

  /** Drops a waiter item, unless its runner has meanwhile come back with a new wait. */
  private async forget(w: Waiter): Promise<void> {
    await conditionally(
      this.o.db.send(
        new DeleteCommand({
          TableName: this.o.tableName,
          Key: this.key(w.jobId, w.runner),
          ...(w.token
            ? {
                ConditionExpression: '#token = :token',
                ExpressionAttributeNames: { '#token': 'token' },
                ExpressionAttributeValues: { ':token': w.token },
              }
            : {
                ConditionExpression: 'attribute_not_exists(#token) AND since = :since',
                ExpressionAttributeNames: { '#token': 'token' },
                ExpressionAttributeValues: { ':since': w.since },
              }),
        }),
      ),
    );
  }
}
