import { type DynamoDBDocumentClient, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { type Calibration, type HostRate, nextRate, type RateSample } from '../core/estimate.ts';
import {
  chooseSlot,
  type HostSpec,
  handOverYieldsTo,
  hostRatesOf,
  isHealthy,
  isLive,
  type Lease,
  nextHealth,
  type PoolSnapshot,
  placerFor,
  type SlotRef,
  type SlotRefusal,
} from '../core/pool/host-pool.ts';
import { type PoolOutage, poolOutage } from '../core/pool/outage.ts';
import { ADMISSION_RUNNER, isWakeable, type JobClaim } from '../core/pool/waiters.ts';
import type { FinishedLease, HostPool, PoolAsk, TaskCallbacks } from '../core/ports.ts';
import { conditionally, wrote } from './conditional-write.ts';
import { DynamoDbPoolQueue, type LineWaiter } from './dynamodb-pool-queue.ts';
import {
  healthSk,
  leaseClaimAttributes,
  poolPk,
  queuePk,
  RATE_PREFIX,
  ratesOf,
  readPool,
  slotSk,
} from './pool-items.ts';

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

/** A lease records its job's claim (see waiters.ts) beside the holder: these SETs, these values. */
const CLAIM_NAMES = Object.keys(
  leaseClaimAttributes({ jobId: '', createdAt: 0, work: 0, rateKey: '', want: 0 }),
).join(', ');
const CLAIM_SETS = CLAIM_NAMES.split(', ').map((name) => `${name} = :${name}`);
const claimValues = (claim: JobClaim) =>
  Object.fromEntries(Object.entries(leaseClaimAttributes(claim)).map(([name, value]) => [`:${name}`, value]));

/** The lease a won slot stands for, with the slot's rates when it has any. */
function leaseOn(
  at: { hostId: string; slot: number },
  holder: string,
  jobId: string,
  until: number,
  hostFailures: number,
  rates: Record<string, number> | undefined,
): Lease {
  const { hostId, slot } = at;
  return {
    hostId,
    slot,
    holder,
    jobId,
    until,
    hostFailures,
    ...(rates && Object.keys(rates).length > 0 ? { rates } : {}),
  };
}

export interface HostPoolOptions {
  clock?: () => number;
  name?: string;
  /** What wakes waiting runners; a pool without it (the gateway's) only reads the queue. */
  callbacks?: TaskCallbacks;
  /** Whether a job has ended (see DynamoDbPoolQueue's sweep); never, when not given. */
  hasEnded?: (jobId: string) => Promise<boolean>;
  /** How long a host rests after failing FAILURES_BEFORE_REST calls in a row; REST_MS by default. */
  restMs?: number;
  /** Seconds per step of a 512x512 image where no host has been measured: places jobs in line. */
  calibration?: Calibration;
}

export class DynamoDbHostPool implements HostPool {
  readonly hosts: HostSpec[];
  private readonly db: DynamoDBDocumentClient;
  private readonly tableName: string;
  private readonly clock: () => number;
  private readonly pk: string;
  private readonly queuePk: string;
  private readonly queue: DynamoDbPoolQueue;
  private readonly restMs?: number;
  private readonly calibration: Calibration;
  private readonly slotCount: number;

  constructor(
    db: DynamoDBDocumentClient,
    tableName: string,
    hosts: HostSpec[],
    options: HostPoolOptions = {},
  ) {
    this.db = db;
    this.tableName = tableName;
    this.hosts = hosts;
    this.clock = options.clock ?? Date.now;
    this.pk = poolPk(options.name ?? 'default');
    this.queuePk = queuePk(options.name ?? 'default');
    this.restMs = options.restMs;
    this.calibration = options.calibration ?? { secondsPerStep: 0.05 };
    this.slotCount = hosts.reduce((n, h) => n + h.depth, 0);
    this.queue = new DynamoDbPoolQueue({
      db,
      tableName,
      poolPk: this.pk,
      queuePk: this.queuePk,
      hosts,
      clock: this.clock,
      calibration: this.calibration,
      callbacks: options.callbacks,
      hasEnded: options.hasEnded,
    });
  }

  /**
   * The slots and health: what most questions of the pool need, without the line. `consistent`
   * false for a question whose answer is a hint (a wrong one is caught under the lease).
   */
  private pool(consistent = true): Promise<PoolSnapshot> {
    return readPool(this.db, this.tableName, this.pk, consistent);
  }

  /** The slots and health, with the head of the line as its waiters. */
  async snapshot(): Promise<PoolSnapshot> {
    const [pool, line] = await Promise.all([readPool(this.db, this.tableName, this.pk), this.queue.head()]);
    return { ...pool, waiters: line };
  }

  async registerWaiter(claim: JobClaim, runner: number, token: string): Promise<void> {
    await this.queue.register({ ...claim, want: Math.min(claim.want, this.slotCount) }, runner, token);
    // A slot freed between the refusal and now would wake no one: look again, with this token in.
    // Only if it reached the head of the line: a sweep wakes no one further back, and a slot freed
    // for those ahead was swept for by whoever freed it. (A job joining a long queue reads no slots.)
    const line = await this.queue.head();
    if (line.some((w) => w.jobId === claim.jobId && w.runner === runner))
      await this.queue.sweep(undefined, line);
  }

  sweep(): Promise<void> {
    return this.queue.sweep();
  }

  async leaveQueue(claim: JobClaim, runner: number): Promise<void> {
    if (await this.queue.leave(claim, runner)) await this.queue.sweep(claim.jobId);
  }

  dropWaiters(jobId: string): Promise<void> {
    return this.queue.dropAll(jobId);
  }

  async acquire(ask: PoolAsk, leaseMs: number, done?: FinishedLease): Promise<Lease | SlotRefusal> {
    const now = this.clock();
    // A job can never hold more slots than the pool has.
    const claim = { ...ask.claim, want: Math.min(ask.claim.want, this.slotCount) };
    if (!done && ask.assigned) {
      // A slot the job's admission named: one write, no read (the admitting sweep read the pool).
      const lease = await this.leaseAssigned(ask.assigned, claim, ask.holder, now, now + leaseMs);
      if (lease) return lease;
    }
    const line = await this.queue.head();
    if (done?.measured && !ask.avoidHosts?.includes(done.lease.hostId)) {
      // A call that went well hands its slot to the job's next call: the head of the line alone
      // decides, not a read of every slot, so the steady state costs one small read and one write.
      const handed = await this.handOverUnlessYielding(done, { ...ask, claim }, line, now, leaseMs);
      if (handed) return handed;
      done = undefined;
    }
    const snapshot: PoolSnapshot = {
      ...(await readPool(this.db, this.tableName, this.pk)),
      waiters: line,
    };
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
    const place = placerFor(snapshot, this.calibration);
    const choice = chooseSlot(
      this.hosts,
      view,
      { ...ask, claim, continuing: done !== undefined },
      now,
      place,
    );
    if ('wait' in choice) {
      // An iteration already running is not waiting for a slot: no place in the queue.
      if (!choice.running) await this.queue.markWaiting(claim, ask.runner, line, now);
      if (done) await this.release(done.lease, done.measured);
      return choice;
    }
    // The condition is the guarantee: two workers that chose the same slot cannot both win it (not
    // even for the same iteration: one lease per holder is checked on the snapshot, and two asks
    // for one iteration read before either wrote). A lost race moves on to the next free slot.
    const until = now + leaseMs;
    let won: { hostId: string; slot: number } | undefined;
    let handedOver: Record<string, number> | undefined;
    const candidates = [{ hostId: choice.hostId, slot: choice.slot }, ...choice.alternatives];
    // A runner's call that is over hands its own slot on first: its other ask, made at the same
    // moment, then finds the slot freed elsewhere rather than racing it for that one.
    const own = done ? candidates.findIndex(isDone) : -1;
    if (own > 0) candidates.unshift(...candidates.splice(own, 1));
    for (const candidate of candidates) {
      if (done && isDone(candidate)) {
        // One write instead of a release and a lease: the slot passes from the old holder to the new.
        handedOver = await this.tryHandOver(done, claim, ask.holder, now, until);
        if (handedOver) {
          won = candidate;
          break;
        }
      } else if (await this.tryLease(candidate, claim, ask.holder, now, until)) {
        won = candidate;
        break;
      }
    }
    if (done && !handedOver) await this.release(done.lease, done.measured);
    if (!won) return { wait: 'other workers took every free slot first' };
    // The runner has its slot: it no longer waits. (Its asks go one at a time, so a second ask
    // follows at once without a place kept for it.) A job's admission claims the slots it was
    // admitted for until its runners have taken them: the claim shrinks by this one.
    if (line.some((w) => w.jobId === claim.jobId && w.runner === ask.runner)) {
      await this.queue.leave(claim, ask.runner);
    }
    const admitted = line.find((w) => w.jobId === claim.jobId && w.runner === ADMISSION_RUNNER);
    if (admitted?.wokenAt !== undefined) await this.queue.took(admitted);
    const { hostId, slot } = won;
    const hostFailures = snapshot.health.find((h) => h.hostId === hostId)?.failures ?? 0;
    const rates = handedOver ?? snapshot.slots.find((s) => s.hostId === hostId && s.slot === slot)?.rates;
    return leaseOn(won, ask.holder, claim.jobId, until, hostFailures, rates);
  }

  /**
   * Takes a slot the job's admission named, if it is still free: the admission's claim shrinks by
   * it. Undefined when another took it first (the ask then goes the usual way).
   */
  private async leaseAssigned(
    target: SlotRef,
    claim: JobClaim,
    holder: string,
    now: number,
    until: number,
  ): Promise<Lease | undefined> {
    if (!this.hosts.some((h) => h.id === target.hostId && target.slot < h.depth)) return undefined;
    const taken = await this.tryLease(target, claim, holder, now, until);
    if (!taken) return undefined;
    await this.queue.took(claim);
    // Only slots of hosts with no failures are named (assignableSlots).
    return leaseOn(target, holder, claim.jobId, until, 0, taken);
  }

  /**
   * The finished lease's slot for the job's next call, unless the head of the line shows a waiter
   * it must go to (see handOverYieldsTo): then it is released, which wakes that waiter, and the ask
   * is refused. Undefined when the old holder no longer held the slot (it lapsed): the ask goes on
   * as a fresh one.
   */
  private async handOverUnlessYielding(
    done: FinishedLease,
    ask: PoolAsk,
    line: readonly LineWaiter[],
    now: number,
    leaseMs: number,
  ): Promise<Lease | SlotRefusal | undefined> {
    const { claim } = ask;
    const place = placerFor(
      {
        slots: [{ hostId: done.lease.hostId, slot: done.lease.slot, rates: done.lease.rates }],
        health: [],
        waiters: [],
      },
      this.calibration,
    );
    const yieldTo = handOverYieldsTo(line, claim, now, place);
    if (yieldTo) {
      await this.release(done.lease, done.measured);
      await this.queue.markWaiting(claim, ask.runner, line, now);
      return { wait: `another job (${yieldTo.jobId}) is ahead in the queue`, ahead: yieldTo.jobId };
    }
    const until = now + leaseMs;
    const rates = await this.tryHandOver(done, claim, ask.holder, now, until);
    if (!rates) return undefined;
    // The call on this host went well: no failures to count.
    return leaseOn(done.lease, ask.holder, claim.jobId, until, 0, rates);
  }

  /**
   * Gives a finished lease's slot to a new holder, folding in the finished call's measurement as a
   * release would. Returns the slot's rates after the write, or undefined when the old holder no
   * longer held it (its lease lapsed and another worker took the slot).
   */
  private async tryHandOver(
    done: FinishedLease,
    claim: JobClaim,
    holder: string,
    now: number,
    until: number,
  ): Promise<Record<string, number> | undefined> {
    const { lease } = done;
    const rated = rateUpdate(done, now);
    const ok = await wrote(
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: this.pk, sk: slotSk(lease.hostId, lease.slot) },
          UpdateExpression: `SET ${['holder = :holder', 'job_id = :job', 'lease_until = :until', ...CLAIM_SETS, ...rated.sets].join(', ')}`,
          ConditionExpression: 'holder = :old AND lease_until = :oldUntil',
          ...rated.names,
          ExpressionAttributeValues: {
            ':holder': holder,
            ':job': claim.jobId,
            ...claimValues(claim),
            ':until': until,
            ':old': lease.holder,
            ':oldUntil': lease.until,
            ...rated.values,
          },
        }),
      ),
    );
    return ok ? { ...rated.rates } : undefined;
  }

  /** Leases a free slot; the slot's rates when it did (an empty record if none), else undefined. */
  private async tryLease(
    target: { hostId: string; slot: number },
    claim: JobClaim,
    holder: string,
    now: number,
    until: number,
  ): Promise<Record<string, number> | undefined> {
    const answer = await conditionally(
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: this.pk, sk: slotSk(target.hostId, target.slot) },
          UpdateExpression: `SET ${['host_id = :host', 'slot = :slot', 'holder = :holder', 'job_id = :job', 'lease_until = :until', ...CLAIM_SETS].join(', ')}`,
          ConditionExpression: 'attribute_not_exists(lease_until) OR lease_until <= :now',
          ExpressionAttributeValues: {
            ':host': target.hostId,
            ':slot': target.slot,
            ':holder': holder,
            ':job': claim.jobId,
            ...claimValues(claim),
            ':until': until,
            ':now': now,
          },
          ReturnValues: 'ALL_NEW',
        }),
      ),
    );
    return answer && (ratesOf(answer.Attributes ?? {}) ?? {});
  }

  async release(lease: Lease, measured?: RateSample): Promise<void> {
    // The measurement rides on the release: the slot item is written anyway.
    const rated = rateUpdate({ lease, measured }, this.clock());
    // A lease that expired and went to another worker is theirs now: nothing to release or record.
    const released = await conditionally(
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: this.pk, sk: slotSk(lease.hostId, lease.slot) },
          UpdateExpression: `${rated.sets.length > 0 ? `SET ${rated.sets.join(', ')} ` : ''}REMOVE holder, job_id, lease_until, ${CLAIM_NAMES}`,
          ConditionExpression: 'holder = :holder AND lease_until = :until',
          ...rated.names,
          ExpressionAttributeValues: { ':holder': lease.holder, ':until': lease.until, ...rated.values },
        }),
      ),
    );
    // A slot is free: whoever is next in line hears of it now, not at their next poll.
    if (released) await this.queue.freed(lease, lease.jobId, rated.rates, lease.hostFailures === 0);
  }

  async heldElsewhere(lease: Lease): Promise<boolean> {
    const now = this.clock();
    return (await this.pool()).slots.some(
      (s) =>
        s.holder === lease.holder && isLive(s, now) && !(s.hostId === lease.hostId && s.slot === lease.slot),
    );
  }

  async callsOf(jobId: string): Promise<number> {
    return (await this.holdersOf(jobId)).size;
  }

  async holdersOf(jobId: string): Promise<Set<string>> {
    const now = this.clock();
    // A hint: what a runner takes over from the others (one begun meanwhile is caught under its lease).
    const live = (await this.pool(false)).slots.filter((s) => s.jobId === jobId && isLive(s, now));
    return new Set(live.flatMap((s) => s.holder ?? []));
  }

  async isHeld(holder: string): Promise<boolean> {
    const now = this.clock();
    // A hint too: an owner told wrongly that its iteration is free asks for it, and is refused.
    return (await this.pool(false)).slots.some((s) => s.holder === holder && isLive(s, now));
  }

  async reportHealth(lease: Lease, ok: boolean, error?: string): Promise<boolean> {
    // A success on a host that had no failures when leased changes nothing: no read, no write.
    if (ok && lease.hostFailures === 0) return false;
    const { hostId } = lease;
    const now = this.clock();
    const key = { pk: this.pk, sk: healthSk(hostId) };
    if (ok) {
      const current = (await this.pool()).health.find((h) => h.hostId === hostId);
      if ((current?.failures ?? 0) === 0) return false;
      const next = nextHealth(current, hostId, true, now);
      // The whole item is replaced: its failing_since and last_error go with the count.
      await this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...key, host_id: hostId, failures: next.failures },
        }),
      );
      return false;
    }
    // Calls on one host fail together: count with an atomic ADD, or concurrent failures would
    // overwrite each other's count and the host would rest late. The first failure since the last
    // success stamps when the host began failing.
    const failed = nextHealth(undefined, hostId, false, now, this.restMs, error);
    const { Attributes } = await this.db.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: key,
        UpdateExpression: `SET host_id = :host, failing_since = if_not_exists(failing_since, :now)${
          failed.lastError ? ', last_error = :error' : ''
        } ADD failures :one`,
        ExpressionAttributeValues: {
          ':host': hostId,
          ':one': 1,
          ':now': now,
          ...(failed.lastError ? { ':error': failed.lastError } : {}),
        },
        ReturnValues: 'ALL_NEW',
      }),
    );
    const counted = { hostId, failures: Number(Attributes?.failures ?? 1) - 1 };
    const next = nextHealth(counted, hostId, false, now, this.restMs);
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

  async outage(): Promise<PoolOutage | undefined> {
    return poolOutage(this.hosts, (await this.pool()).health);
  }

  async hostRates(): Promise<HostRate[]> {
    // For a start's estimate: a rate a moment old does as well, at half the read.
    return hostRatesOf(this.hosts, await this.pool(false), this.clock());
  }

  /** Waiters at the head of the line (at most LINE_WINDOW: the line is never read whole). */
  async waitingRunners(): Promise<number> {
    const now = this.clock();
    return (await this.queue.head()).filter((w) => isWakeable(w, now)).length;
  }

  async resting(): Promise<string[]> {
    const now = this.clock();
    return (await this.pool()).health.filter((h) => !isHealthy(h, now)).map((h) => h.hostId);
  }

  /**
   * Drops every lease and every place in the queue: only for a single-process owner of the pool
   * (the embedded stack) at start, when any lease left is a killed process's and would idle its
   * slot until it lapsed, and any waiter's task died with that process.
   */
  async clearLeases(): Promise<number> {
    const snapshot = await readPool(this.db, this.tableName, this.pk);
    await this.queue.clear();
    const live = snapshot.slots.filter((s) => s.holder !== undefined);
    for (const slot of live) {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: this.pk, sk: slotSk(slot.hostId, slot.slot) },
          UpdateExpression: `REMOVE holder, job_id, lease_until, ${CLAIM_NAMES}`,
        }),
      );
    }
    return live.length;
  }
}
