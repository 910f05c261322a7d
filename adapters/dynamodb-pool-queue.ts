import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { TaskGoneError } from '../core/errors.ts';
import type { Calibration } from '../core/estimate.ts';
import {
  admissionOutput,
  assignableSlots,
  type HostSpec,
  type PoolSnapshot,
  placerFor,
  poolContenders,
  type SlotRef,
  slotKey,
  unleasedSlotCount,
} from '../core/pool/host-pool.ts';
import {
  ADMISSION_RUNNER,
  freedSlotGoesTo,
  isWakeable,
  type JobClaim,
  planWakes,
  REGISTER_GRACE_MS,
  WAKE_GRACE_MS,
  type Waiter,
  type Wake,
  waiterState,
} from '../core/pool/waiters.ts';
import type { TaskCallbacks } from '../core/ports.ts';
import { conditionally, wrote } from './conditional-write.ts';
import { lineSk, readLine, readPool, tokenSk } from './pool-items.ts';

/**
 * What a wake-up came to: sent (or lost on the way, for a later sweep to send again), its task
 * gone (its place dropped), or another worker's wake-up first.
 */
type WakeOutcome = 'woken' | 'gone' | 'raced';

/** A waiter as read from the line, with its item's sort key. */
export type LineWaiter = Waiter & { sk: string };

/** A line item's claim attributes. */
const claimAttributes = (claim: JobClaim) => ({
  job_id: claim.jobId,
  created: claim.createdAt,
  order: claim.order ?? claim.createdAt,
  work: claim.work,
  rate_key: claim.rateKey,
  want: claim.want,
});

/** Queue items outlive any wait they stand for; TTL removes what a crash leaves behind. */
const WAITER_TTL_SECONDS = 7 * 86_400;
/** Passes over the queue when wake-ups find their tasks gone (each pass drops those). */
const WAKE_PASSES = 3;

export interface PoolQueueOptions {
  db: DynamoDBDocumentClient;
  tableName: string;
  /** The pool's partition (slots and health) and the queue's own. */
  poolPk: string;
  queuePk: string;
  hosts: HostSpec[];
  clock: () => number;
  calibration: Calibration;
  /** What wakes a waiting task; without it (the gateway) the queue is only read. */
  callbacks?: TaskCallbacks;
  /** Whether a job has ended: its places are dropped when they hold others back (see sweep). */
  hasEnded?: (jobId: string) => Promise<boolean>;
}

/**
 * The pool's line of waiters (see core/pool/waiters.ts for its order), in a partition of its own:
 * one small item per place, sorted so the head is read with one short query, and each waiting
 * task's token in an item apart, read only to wake it. Every write that can race is conditional,
 * so two workers sweeping at once wake a waiter once.
 */
export class DynamoDbPoolQueue {
  private readonly o: PoolQueueOptions;

  constructor(options: PoolQueueOptions) {
    this.o = options;
  }

  private lineKey(claim: Pick<JobClaim, 'jobId' | 'createdAt' | 'order'>, runner: number) {
    return { pk: this.o.queuePk, sk: lineSk(claim, runner) };
  }

  private tokenKey(jobId: string, runner: number) {
    return { pk: this.o.queuePk, sk: tokenSk(jobId, runner) };
  }

  /** The head of the line (see LINE_WINDOW). */
  head(): Promise<LineWaiter[]> {
    return readLine(this.o.db, this.o.tableName, this.o.queuePk);
  }

  /**
   * A refused runner takes its place in line (kept from its first refusal when the head shows it,
   * its claim refreshed), claiming its room until `askUntil`.
   */
  async markWaiting(
    claim: JobClaim,
    runner: number,
    line: readonly Waiter[],
    now: number,
    askUntil = now + REGISTER_GRACE_MS,
  ): Promise<void> {
    const mine = line.find((w) => w.jobId === claim.jobId && w.runner === runner);
    const since = mine && waiterState(mine, now) !== 'stale' ? mine.since : now;
    await this.o.db.send(
      new PutCommand({
        TableName: this.o.tableName,
        Item: {
          ...this.lineKey(claim, runner),
          ...claimAttributes(claim),
          runner,
          since,
          ask_until: askUntil,
          ttl: Math.floor(now / 1000) + WAITER_TTL_SECONDS,
        },
      }),
    );
  }

  /** The waiter's Wait state is in place: its token is what wakes it. */
  async register(claim: JobClaim, runner: number, token: string): Promise<void> {
    const now = this.o.clock();
    const ttl = Math.floor(now / 1000) + WAITER_TTL_SECONDS;
    await this.o.db.send(
      new PutCommand({
        TableName: this.o.tableName,
        Item: { ...this.tokenKey(claim.jobId, runner), token, ttl },
      }),
    );
    const attributes = Object.entries({ ...claimAttributes(claim), runner, registered: true, ttl });
    await this.o.db.send(
      new UpdateCommand({
        TableName: this.o.tableName,
        Key: this.lineKey(claim, runner),
        UpdateExpression: `SET ${attributes.map(([name]) => `#${name} = :${name}`).join(', ')}, since = if_not_exists(since, :now) REMOVE woken_at, ask_until, assigned`,
        ExpressionAttributeNames: Object.fromEntries(attributes.map(([name]) => [`#${name}`, name])),
        ExpressionAttributeValues: {
          ...Object.fromEntries(attributes.map(([name, value]) => [`:${name}`, value])),
          ':now': now,
        },
      }),
    );
  }

  /** Removes a place (and its token); true when it had one. */
  async leave(claim: Pick<JobClaim, 'jobId' | 'createdAt' | 'order'>, runner: number): Promise<boolean> {
    const { Attributes } = await this.o.db.send(
      new DeleteCommand({
        TableName: this.o.tableName,
        Key: this.lineKey(claim, runner),
        ReturnValues: 'ALL_OLD',
      }),
    );
    if (Attributes?.registered) {
      await this.o.db.send(
        new DeleteCommand({ TableName: this.o.tableName, Key: this.tokenKey(claim.jobId, runner) }),
      );
    }
    return Attributes !== undefined;
  }

  /**
   * One of the slots an admitted job was woken for is taken: its claim shrinks by one (atomically,
   * as its runners ask at once), and goes once every slot is taken. Found by its key alone when
   * the line was not read (a slot the admission named).
   */
  async took(admission: LineWaiter | JobClaim): Promise<void> {
    const sk = 'sk' in admission ? admission.sk : lineSk(admission, ADMISSION_RUNNER);
    const key = { pk: this.o.queuePk, sk };
    const left = await conditionally(
      this.o.db.send(
        new UpdateCommand({
          TableName: this.o.tableName,
          Key: key,
          UpdateExpression: 'ADD want :less',
          ConditionExpression: 'attribute_exists(woken_at)',
          ExpressionAttributeValues: { ':less': -1 },
          ReturnValues: 'UPDATED_NEW',
        }),
      ),
    );
    if (left && Number(left.Attributes?.want ?? 0) <= 0) {
      if ('sk' in admission) await this.forget(admission);
      else await this.forgetTaken(sk);
    }
  }

  /**
   * Every place of an ended job that the head shows leaves the line. Places further back (a
   * runner's, rarely) leave as they reach the head: their tasks are gone, or they went stale.
   */
  async dropAll(jobId: string): Promise<void> {
    for (const w of await this.head()) if (w.jobId === jobId) await this.forget(w);
  }

  /**
   * A slot its holder let go: admits the job first in line to it when the head of the line alone
   * says so (freedSlotGoesTo), naming the slot, and otherwise sweeps. `clean`: the slot's host had
   * no failures counted (only such slots are named, see assignableSlots).
   */
  async freed(slot: SlotRef, released: string, rates: Record<string, number> | undefined, clean: boolean) {
    const { callbacks } = this.o;
    if (!callbacks) return;
    if (!clean) return this.sweep(released);
    const line = await this.head();
    const now = this.o.clock();
    const place = placerFor(
      { slots: [{ hostId: slot.hostId, slot: slot.slot, rates }], health: [], waiters: [] },
      this.o.calibration,
    );
    const next = freedSlotGoesTo(line, released, now, place);
    if ('none' in next) return;
    if ('sweep' in next) return this.sweep(released, line);
    const outcome = await this.wake({ ...(next.wake as LineWaiter), slots: 1 }, [slot], now, callbacks);
    // Its task was gone (its place is dropped), or another worker woke it first (for other slots):
    // this one is still free for whoever is next.
    if (outcome !== 'woken') await this.sweep(released);
  }

  /**
   * Wakes the waiters whose turn it is now, and forgets those that never registered or whose task
   * is gone. Safe to run from any worker at any time; reads the slots only when someone at the head
   * can be woken. `released`: a job that just gave a slot back because it had nothing to run on it;
   * the room its other leases claimed when they were taken is not kept for it.
   */
  async sweep(released?: string, head?: LineWaiter[]): Promise<void> {
    const { callbacks } = this.o;
    if (!callbacks) return;
    let line = head ?? (await this.head());
    for (let pass = 0; pass < WAKE_PASSES; pass++) {
      const now = this.o.clock();
      for (const w of line.filter((x) => waiterState(x, now) === 'stale')) await this.forget(w);
      if (!line.some((w) => isWakeable(w, now))) return;
      const snapshot: PoolSnapshot = {
        ...(await readPool(this.o.db, this.o.tableName, this.o.poolPk)),
        waiters: line,
      };
      const place = placerFor(snapshot, this.o.calibration);
      const contending = poolContenders(snapshot, now, place).map((c) =>
        c.jobId === released && c.wakeable.length === 0 ? { ...c, unmet: 0 } : c,
      );
      const free = unleasedSlotCount(this.o.hosts, snapshot, now);
      let gone = 0;
      const wakes = planWakes(contending, free);
      // Free slots no one is woken for are held back by a place that cannot be woken (a job just
      // woken, a runner on its way to its wait). If that job has ended (a cancel stops its
      // execution: nothing of it will come), its places go, and the slots to whoever is next.
      if (wakes.length === 0 && free > 0) gone += await this.dropEnded(line, now);
      // Each job admitted is handed its share of the free slots by name, its own and no other's:
      // not those an admission before named for runners still on their way.
      const named = new Set(
        line.filter((w) => waiterState(w, now) === 'woken').flatMap((w) => w.assigned ?? []),
      );
      const assignable = assignableSlots(this.o.hosts, snapshot, now).filter((s) => !named.has(slotKey(s)));
      const hostIndex = new Map(this.o.hosts.map((h, i) => [h.id, i]));
      for (const w of wakes) {
        // The least loaded slots, then in host order: a runner given two (the two from 2r) gets
        // both of one host where both were picked, so its calls keep that host busy by themselves,
        // and one call on each of two idle hosts otherwise.
        const assigned = (w.runner === ADMISSION_RUNNER ? assignable.splice(0, w.slots) : []).sort(
          (a, b) => (hostIndex.get(a.hostId) ?? 0) - (hostIndex.get(b.hostId) ?? 0) || a.slot - b.slot,
        );
        if ((await this.wake(w as Wake & LineWaiter, assigned, now, callbacks)) === 'gone') gone++;
      }
      if (gone === 0) return;
      // Tasks that were gone freed their places: the slots may be someone else's now.
      line = await this.head();
    }
  }

  /** Drops the places of ended jobs that hold room at the head of the line; how many jobs. */
  private async dropEnded(line: readonly LineWaiter[], now: number): Promise<number> {
    const { hasEnded } = this.o;
    if (!hasEnded) return 0;
    const holding = new Set(line.filter((w) => !isWakeable(w, now)).map((w) => w.jobId));
    let dropped = 0;
    for (const jobId of holding) {
      if (!(await hasEnded(jobId))) continue;
      for (const w of line.filter((x) => x.jobId === jobId)) await this.forget(w);
      dropped++;
    }
    return dropped;
  }

  /**
   * Wakes one waiter, once (see WakeOutcome). A job admitted claims the slots it was woken for
   * (`want`), and starts a runner per two.
   */
  private async wake(
    w: Wake & LineWaiter,
    assigned: SlotRef[],
    now: number,
    callbacks: TaskCallbacks,
  ): Promise<WakeOutcome> {
    const admission = w.runner === ADMISSION_RUNNER;
    const claimed = await wrote(
      this.o.db.send(
        new UpdateCommand({
          TableName: this.o.tableName,
          Key: { pk: this.o.queuePk, sk: w.sk },
          UpdateExpression: `SET woken_at = :now${admission ? ', want = :want, assigned = :assigned' : ''}`,
          // Not woken yet, or woken so long ago that the wake-up was lost.
          ConditionExpression: 'registered = :yes AND (attribute_not_exists(woken_at) OR woken_at <= :lost)',
          ExpressionAttributeValues: {
            ':now': now,
            ':yes': true,
            ':lost': now - WAKE_GRACE_MS,
            ...(admission ? { ':want': w.slots, ':assigned': assigned.map(slotKey) } : {}),
          },
        }),
      ),
    );
    if (!claimed) return 'raced';
    const { Item } = await this.o.db.send(
      new GetCommand({
        TableName: this.o.tableName,
        Key: this.tokenKey(w.jobId, w.runner),
        ConsistentRead: true,
      }),
    );
    const token = Item?.token as string | undefined;
    if (!token) {
      await this.forget(w);
      return 'gone';
    }
    const output = admission
      ? admissionOutput(w.slots, assigned, now)
      : { woken_at: new Date(now).toISOString() };
    try {
      await callbacks.succeed(token, output);
      return 'woken';
    } catch (error) {
      if (!(error instanceof TaskGoneError)) {
        // Throttled or unreachable: the claim lapses after WAKE_GRACE_MS and a later sweep retries.
        console.error(`waking ${w.jobId} runner ${w.runner} failed`, error);
        return 'woken';
      }
      await this.forget(w);
      return 'gone';
    }
  }

  /** Drops a place and its token, unless its waiter has meanwhile come back with a new wait. */
  private async forget(w: LineWaiter): Promise<void> {
    const dropped = await conditionally(
      this.o.db.send(
        new DeleteCommand({
          TableName: this.o.tableName,
          Key: { pk: this.o.queuePk, sk: w.sk },
          ...(w.token
            ? {
                ConditionExpression: 'registered = :yes AND since = :since',
                ExpressionAttributeValues: { ':yes': true, ':since': w.since },
              }
            : {
                ConditionExpression: 'attribute_not_exists(registered) AND since = :since',
                ExpressionAttributeValues: { ':since': w.since },
              }),
        }),
      ),
    );
    if (dropped && w.token) {
      await this.o.db.send(
        new DeleteCommand({ TableName: this.o.tableName, Key: this.tokenKey(w.jobId, w.runner) }),
      );
    }
  }

  /** Drops an admission whose slots are all taken, found by its key (see took). */
  private async forgetTaken(sk: string): Promise<void> {
    const dropped = await conditionally(
      this.o.db.send(
        new DeleteCommand({
          TableName: this.o.tableName,
          Key: { pk: this.o.queuePk, sk },
          ConditionExpression: 'want <= :none',
          ExpressionAttributeValues: { ':none': 0 },
          ReturnValues: 'ALL_OLD',
        }),
      ),
    );
    const old = dropped?.Attributes;
    if (old?.registered) {
      await this.o.db.send(
        new DeleteCommand({
          TableName: this.o.tableName,
          Key: this.tokenKey(String(old.job_id), ADMISSION_RUNNER),
        }),
      );
    }
  }

  /** Drops every place and token: for a single owner of the pool at its start (see clearLeases). */
  async clear(): Promise<void> {
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.o.db.send(
        new QueryCommand({
          TableName: this.o.tableName,
          KeyConditionExpression: 'pk = :queue',
          ExpressionAttributeValues: { ':queue': this.o.queuePk },
          ProjectionExpression: 'sk',
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const { sk } of page.Items ?? []) {
        await this.o.db.send(
          new DeleteCommand({ TableName: this.o.tableName, Key: { pk: this.o.queuePk, sk } }),
        );
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);
  }
}
