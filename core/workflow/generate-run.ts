import { type Clock, systemClock } from '../clock.ts';
import {
  JobNotFoundError,
  NoSlotAvailableError,
  RunPausedError,
  SdWebUiUnavailableError,
  TransientAwsError,
} from '../errors.ts';
import { isTerminal, type JobRecord } from '../job.ts';
import { CALLS_PER_RUNNER, othersIterations, runnerIterations } from '../plan.ts';
import { parseSlotKey, type SlotRef } from '../pool/host-pool.ts';
import { giveUpAt, OUTAGE_MS, outageFailure, type PoolOutage } from '../pool/outage.ts';
import { SWEEP_EVERY_MS } from '../pool/waiters.ts';
import type { FinishedLease } from '../ports.ts';
import { type GenerateDeps, generateIteration, runnerCalls } from './generate-iteration.ts';
import { jobClaim } from './job-claim.ts';
import { LeaseBook } from './lease-book.ts';
import { type FailureReason, recordFailedIteration } from './record-failed-iteration.ts';
import type { RunTaskInput, RunTaskOutput } from './task-io.ts';

export interface RunDeps extends GenerateDeps {
  /** Tries of an iteration whose host could not do the work (5xx, reset, time-out), and the back-off between them. */
  iterationRetry: { attempts: number; firstDelayMs: number; maxDelayMs: number };
  /** How long iterations are tried while no host completes a call (OUTAGE_MS unless shortened). */
  outageMs?: number;
}

interface Pending {
  iteration: number;
  /** Failed calls so far, as the job records them (a new runner continues the count). */
  attempt: number;
  /** Hosts that failed it (as the job records them): its next try waits for another. */
  avoidHosts?: string[];
  /** Epoch ms before which a retry waits (back-off). */
  notBefore: number;
  /** Another runner's iteration, taken once this runner's own were all done. */
  stolen?: boolean;
  /** Own iteration another runner is making: looked at again (a pool read) until it is counted. */
  taken?: true;
  /** Times it was looked at so far: each wait is longer (see lookAgain). */
  looks?: number;
}

/**
 * How soon a runner first looks again at its own iteration that another runner is making: a pool
 * read, also while its other call is in flight. It happens at the job's end, or when a runner
 * started again (after a pause or a crash) finds its work taken, for at most the length of one
 * call. Each wait can delay the job's end (or, when two asks that raced for
 * it both stood back, its making), so the first is short; the waits then grow, so a long call
 * costs a few reads of the pool (whose size grows with the hosts), not one per RECHECK_MS.
 */
const RECHECK_MS = 25;

/**
 * How often a runner with a call in flight asks again for the second slot it was refused because
 * every slot was busy, not because another job goes first: the slot frees when someone's call
 * ends, and a runner that waited for its own call to end would leave the GPU without a queued
 * call for an upload's time. A pool read each time, only while that lasts (one call at most).
 */
const BUSY_RECHECK_MS = 50;
/**
 * Each next ask waits twice as long, up to this: a long call costs a few reads of the pool (whose
 * size grows with its hosts), not one per BUSY_RECHECK_MS, and a slot that frees meanwhile goes to
 * whoever waits in line anyway.
 */
const MAX_BUSY_RECHECK_MS = 1000;

/**
 * One generate task: runner r of a job does its iterations (runnerIterations) with two calls in
 * flight, each on a slot it leases for that call alone. The second call waits inside SD WebUI
 * while the first samples, so the host never idles, and because both belong to this one
 * invocation the Lambda is billed for the GPU's time once rather than twice.
 *
 * Between calls the pool decides again: when it refuses (another job goes first, every slot busy)
 * the runner finishes what it has in flight and, if nothing is left running, throws
 * NoSlotAvailableError: its execution then waits in "Wait for a GPU slot", a callback task the
 * pool completes when a slot is freed for it, so waiting bills no Lambda and no transitions. A
 * refusal because every host rests is waited out here (it ends within REST_MS). The runner
 * pauses (RunPausedError) before a call could outlive `deadline`, and the state machine starts
 * it again at once. What it finished is kept: iterations are skipped once counted, and failed
 * calls are counted in the job's record, so a runner started again goes on where this one was.
 *
 * While every host of the pool fails (no call completed anywhere since the outage began, as the
 * pool's health records say), iterations are tried as usual for the outage's bound (giveUpAt);
 * past it, those not in flight fail at once, named with the hosts' last errors, so a job on a dead
 * pool ends in minutes whatever its size. A host that completes a call ends the outage.
 *
 * A runner whose own iterations are done takes the other runners' last ones (from the end of
 * their lists, while they work from the start), so every host stays busy to the end of the job.
 * The pool grants one lease per iteration (and once runners take each other's, a call that won a
 * slot in a race with another ask for its iteration stands back), so a taken iteration is not made
 * twice; its owner waits for it to be counted, and makes it itself if the taker's lease lapses.
 */
export async function generateRun(
  input: RunTaskInput,
  deps: RunDeps,
  deadline: number,
  /** Aborted when the task's time is up before `deadline` (the embedded orchestrator timed it out): no call is launched after. */
  stop?: AbortSignal,
): Promise<RunTaskOutput> {
  const { job_id: jobId, runner } = input;
  const job = await deps.jobs.get(jobId);
  if (!job) throw new JobNotFoundError(jobId);
  if (isTerminal(job.status)) return { runner, images: 0, iterations: 0, failed: 0 };
  // The first runner to start marks the job running (a job cancelled before that stays cancelled).
  if (job.status === 'pending')
    await deps.jobs.transition(jobId, ['pending'], 'running', deps.now().toISOString());
  return new Runner(input, deps, deadline, job, stop).run();
}

/** One generate task at work: what it has left, in flight and learnt, and a method per step. */
class Runner {
  readonly #out: RunTaskOutput;
  readonly #jobId: string;
  readonly #runner: number;
  readonly #runners: number;
  /** Runners of the job at work at once (what it was admitted with): its claim's slots. */
  readonly #concurrency: number;
  /** The slots it was admitted for, if it was. */
  readonly #slots: number | undefined;
  /** The slots its admission named for it (see SlotAsk.assigned), and until when. */
  readonly #assigned: { slots: SlotRef[]; until: number };
  readonly #deps: RunDeps;
  readonly #deadline: number;
  readonly #stop: AbortSignal | undefined;
  readonly #clock: Clock;
  readonly #callMs: number;
  /** The job as this task found it: what a failure is recorded against. */
  readonly #job: JobRecord;
  /** The job as last read, shared by this runner's calls (each refreshes it under its lease). */
  readonly #latest: { job: JobRecord };
  readonly #queue: Pending[];
  #stealing: boolean;
  readonly #inFlight = new Set<Promise<void>>();
  /** Its calls to one host run in the order sent, and a cancel one of them sees stops them all. */
  readonly #shared = runnerCalls();
  /** Leases whose calls are over: the next call takes one over in a single write. */
  readonly #leases: LeaseBook;
  /** The pool's last refusal, until one of our slots frees: no call is launched meanwhile. */
  #refusal: NoSlotAvailableError | undefined;
  /** Asks again for a second slot since our last call ended (see busyRecheckMs). */
  #busyLooks = 0;
  /** Why no call is launched any more: the calls in flight finish, then the run ends that way. */
  #halt: Halt | undefined;
  /** The pool's outage as last seen (the job's record of it at first): past its bound, no more tries. */
  #outage: PoolOutage | undefined;
  /** Epoch ms the job started: an outage's bound counts from it at the earliest (see giveUpAt). */
  readonly #jobStart: number;

  constructor(input: RunTaskInput, deps: RunDeps, deadline: number, job: JobRecord, stop?: AbortSignal) {
    this.#jobId = input.job_id;
    this.#runner = input.runner;
    this.#runners = input.runners;
    this.#concurrency = input.concurrency ?? input.runners;
    this.#slots = input.slots;
    this.#assigned = {
      slots: (input.assigned ?? [])
        .slice(CALLS_PER_RUNNER * input.runner, CALLS_PER_RUNNER * (input.runner + 1))
        .flatMap((key) => parseSlotKey(key) ?? []),
      until: input.assigned_until ?? 0,
    };
    this.#deps = deps;
    this.#deadline = deadline;
    this.#stop = stop;
    this.#clock = deps.clock ?? systemClock;
    this.#callMs = deps.callTimeoutMs(job.params);
    this.#out = { runner: input.runner, images: 0, iterations: 0, failed: 0 };
    this.#job = job;
    this.#latest = { job };
    this.#queue = runnerIterations(input.runner, input.runners, job.params.n_iter)
      .filter((i) => !job.counted?.has(i))
      .map((iteration) => pending(job, iteration));
    this.#stealing = input.runners === 1;
    this.#leases = new LeaseBook(deps.pool);
    this.#outage = job.outage;
    this.#jobStart = Date.parse(job.started_at ?? job.created_at);
  }

  async run(): Promise<RunTaskOutput> {
    // While this runner lives it sweeps the pool's queue now and then: a wake-up a crashed worker
    // never sent is sent.
    const stopSweeping = this.#clock.every(SWEEP_EVERY_MS, () => {
      this.#deps.pool.sweep().catch((error) => console.error('sweeping the GPU queue failed', error));
    });
    let asking = false;
    try {
      for (;;) {
        await this.#launch();
        // A lease no call took over right away goes back to the pool, not kept idle.
        if (this.#leases.size > 0) await this.#leases.releaseAll();
        if (this.#inFlight.size > 0) await this.#awaitCall();
        else if (await this.#finished()) return this.#out;
      }
    } catch (error) {
      // Refused: its place stays, for the Wait state to register at. Paused: it asks again at once.
      asking = error instanceof NoSlotAvailableError || error instanceof RunPausedError;
      throw error;
    } finally {
      stopSweeping();
      // Both end the task: neither waits for the other.
      await Promise.all([
        this.#leases.releaseAll(),
        asking
          ? undefined
          : this.#deps.pool.leaveQueue(
              jobClaim(this.#latest.job, this.#concurrency, this.#slots),
              this.#runner,
            ),
      ]);
    }
  }

  /** The next slot its admission named for this runner, while they are its to take. */
  #nextAssigned(): SlotRef | undefined {
    if (this.#clock.now() >= this.#assigned.until) return undefined;
    return this.#assigned.slots.shift();
  }

  #haltFor(next: Halt) {
    if (!this.#halt || HALT_RANK[next.why] > HALT_RANK[this.#halt.why]) this.#halt = next;
  }

  /** Launches calls while one of the two is free, the pool has not refused, and nothing halts. */
  async #launch() {
    while (this.#inFlight.size < CALLS_PER_RUNNER && this.#refusal === undefined && !this.#halt) {
      if (!this.#stealing && this.#queue.every((p) => p.taken)) {
        // Own iterations all launched: help with the others' while a call of ours is free.
        this.#stealing = true;
        try {
          this.#queue.push(...(await othersLeft(this.#deps, this.#jobId, this.#runner, this.#runners)));
        } catch (error) {
          this.#haltFor({ why: 'failed', error });
          return;
        }
      }
      try {
        await this.#giveUpIfPoolDead();
      } catch (error) {
        this.#haltFor({ why: 'failed', error });
        return;
      }
      const next = takeReady(this.#queue, this.#clock.now());
      if (!next) return;
      if (this.#clock.now() + this.#callMs > this.#deadline || this.#stop?.aborted) {
        this.#queue.unshift(next);
        this.#haltFor({ why: 'out-of-time' });
        return;
      }
      // The lease handed over is taken now, synchronously, so it is not released meanwhile.
      const handOver = next.taken ? undefined : this.#leases.take();
      const running: Promise<void> = this.#attempt(next, handOver)
        .catch((error) => this.#haltFor({ why: 'failed', error }))
        .finally(() => this.#inFlight.delete(running));
      this.#inFlight.add(running);
    }
  }

  /**
   * Waits for a call to end, or sooner: to ask again for the second slot when every slot was busy,
   * or when the first iteration waiting for a later time (another runner's, a back-off) is due.
   */
  async #awaitCall() {
    const refusal = this.#refusal;
    const busy = refusal && !refusal.ahead && refusal.restingUntil === undefined;
    const later =
      this.#inFlight.size < CALLS_PER_RUNNER && refusal === undefined && !this.#halt
        ? firstReadyAt(this.#queue)
        : undefined;
    const woke = await Promise.race<unknown>([
      ...this.#inFlight,
      ...(busy ? [recheckAfter(this.#clock, busyRecheckMs(this.#busyLooks))] : []),
      ...(later !== undefined ? [recheckAfter(this.#clock, later - this.#clock.now())] : []),
    ]);
    if (woke === RECHECK && busy) {
      this.#refusal = undefined;
      this.#busyLooks++;
    }
  }

  /**
   * With nothing in flight: true when the run is over; otherwise it waits out a rest or a back-off
   * here, or throws for the state machine to wait (refused) or start it again (out of time).
   */
  async #finished(): Promise<boolean> {
    const halt = this.#halt;
    const refusal = this.#refusal;
    if (halt?.why === 'failed') throw halt.error;
    if (halt?.why === 'job-ended' || this.#queue.length === 0) return true;
    if (refusal?.restingUntil !== undefined && refusal.restingUntil < this.#deadline) {
      // Every host rests after failures, for seconds: nobody will free a slot, so no one would
      // wake a waiter (the Wait state would sit out its 600 s heartbeat); waiting here for the
      // rest to end is short and bounded. A call that would not fit after it pauses the runner,
      // which the state machine starts again at once.
      await this.#clock.sleep(refusal.restingUntil - this.#clock.now());
      this.#refusal = undefined;
      return false;
    }
    if (refusal !== undefined) throw refusal;
    if (halt?.why === 'out-of-time') {
      throw new RunPausedError(
        `runner ${this.#runner} of ${this.#jobId} paused with ${this.#queue.length} iterations left: its time is nearly up`,
      );
    }
    // Only retries in back-off, and iterations another runner is making, are left.
    await this.#clock.sleep((firstReadyAt(this.#queue) ?? 0) - this.#clock.now());
    return false;
  }

  /** One iteration: made, left to the runner making it, or its failure retried or recorded. */
  async #attempt(item: Pending, handOver: FinishedLease | undefined): Promise<void> {
    try {
      if (item.taken && !(await this.#stillToMake(item))) return;
      const asker = {
        runner: this.#runner,
        claim: (current: JobRecord) => jobClaim(current, this.#concurrency, this.#slots),
        ...(item.avoidHosts ? { avoidHosts: item.avoidHosts } : {}),
        ...(item.stolen ? { stolen: true } : { assigned: () => this.#nextAssigned() }),
        latest: this.#latest,
        shared: this.#shared,
      };
      const result = await generateIteration(
        { job_id: this.#jobId, iteration: item.iteration },
        this.#deps,
        asker,
        { book: this.#leases, ...(handOver ? { handOver } : {}) },
      );
      if (result.job_ended) this.#haltFor({ why: 'job-ended' });
      else if (result.running_elsewhere) {
        if (!item.stolen) this.#queue.push(lookAgain(item, this.#clock.now()));
      } else if (!result.skipped) {
        this.#out.iterations++;
        this.#out.images += result.images;
        // A host completed a call: whatever outage we saw is over.
        this.#outage = undefined;
      }
      // One of our slots is free again: the pool may say yes to the next ask.
      this.#refusal = undefined;
      this.#busyLooks = 0;
    } catch (error) {
      if (error instanceof NoSlotAvailableError) {
        this.#queue.unshift(item);
        this.#refusal = error;
        return;
      }
      await this.#failed(item, error);
      this.#refusal = undefined;
    }
  }

  /**
   * Whether our own iteration another runner took is still to make: not once that runner counted
   * it (it counts before it lets the lease go), nor once the job ended. While it is being made, it
   * is looked at again later.
   */
  async #stillToMake(item: Pending): Promise<boolean> {
    const current = await this.#deps.jobs.get(this.#jobId);
    if (!current || isTerminal(current.status)) {
      this.#haltFor({ why: 'job-ended' });
      return false;
    }
    this.#latest.job = current;
    if (current.counted?.has(item.iteration)) return false;
    if (await this.#deps.pool.isHeld(`${this.#jobId}#${item.iteration}`)) {
      this.#queue.push(lookAgain(item, this.#clock.now()));
      return false;
    }
    return true;
  }

  /**
   * Whether the pool's outage has lasted its bound (see giveUpAt), from what this runner last saw;
   * `fresh` reads the pool first, as a host may work again.
   */
  async #poolDead(fresh: boolean): Promise<PoolOutage | undefined> {
    const bound = this.#deps.outageMs ?? OUTAGE_MS;
    const past = (o: PoolOutage | undefined) =>
      o !== undefined && this.#clock.now() >= giveUpAt(o, this.#jobStart, bound);
    if (!past(this.#outage)) return undefined;
    if (fresh) this.#outage = await this.#deps.pool.outage();
    return past(this.#outage) ? this.#outage : undefined;
  }

  /** Past the outage's bound, every iteration left (not one another runner makes) fails now. */
  async #giveUpIfPoolDead() {
    if (!this.#queue.some((p) => !p.taken)) return;
    const outage = await this.#poolDead(true);
    if (!outage) return;
    const left = this.#queue.filter((p) => !p.taken);
    this.#queue.splice(0, this.#queue.length, ...this.#queue.filter((p) => p.taken));
    const reason = { type: 'SdWebUiUnavailableError', message: outageFailure(outage, this.#clock.now()) };
    for (const item of left) await this.#recordFailed(item.iteration, reason);
  }

  /** A failed call: tried again after a back-off on another host, or recorded as failed. */
  async #failed(item: Pending, error: unknown) {
    // A store still throttled or unreachable after the SDK's retries says nothing of this
    // iteration: the run ends with it (its calls in flight finish first) and the state machine
    // starts the runner again after a back-off, which goes on where this one was.
    if (error instanceof TransientAwsError) throw error;
    const deps = this.#deps;
    const unavailable = error instanceof SdWebUiUnavailableError ? error : undefined;
    // One pool read per failed call: whether every host fails, kept with the job for status.
    if (unavailable) this.#outage = await deps.pool.outage();
    const tries = unavailable
      ? await deps.jobs.recordAttempt(this.#jobId, item.iteration, unavailable.hostId, this.#outage)
      : 0;
    const dead = unavailable ? await this.#poolDead(false) : undefined;
    if (unavailable && tries < deps.iterationRetry.attempts && !dead) {
      const avoid = new Set([
        ...(item.avoidHosts ?? []),
        ...(unavailable.hostId ? [unavailable.hostId] : []),
      ]);
      this.#queue.push({
        iteration: item.iteration,
        attempt: tries,
        notBefore: this.#clock.now() + backoffMs(tries - 1, deps),
        ...(avoid.size > 0 ? { avoidHosts: [...avoid] } : {}),
        ...(item.stolen ? { stolen: true } : {}),
      });
      return;
    }
    // Retrying cannot help (a 422, a missing checkpoint), the tries ran out, or no host has worked
    // for the outage's bound: record it, go on.
    const { name, message } = error instanceof Error ? error : new Error(String(error));
    await this.#recordFailed(
      item.iteration,
      dead ? { type: name, message: outageFailure(dead, this.#clock.now()) } : { type: name, message },
    );
  }

  async #recordFailed(iteration: number, reason: FailureReason) {
    await recordFailedIteration(
      this.#job,
      iteration,
      { type: reason.type, message: reason.message.slice(0, 1000) },
      this.#deps,
    );
    this.#out.iterations++;
    this.#out.failed++;
  }
}

/**
 * Why a runner launches no more calls. `failed`: a store that cannot even record a failure, or
 * that stays unavailable (TransientAwsError; the error is rethrown); `job-ended`: cancelled or finished elsewhere; `out-of-time`: the next call
 * could outlive the task (it pauses). The first failure wins, and a failure over an ended job over
 * a lack of time, as the run ends.
 */
type Halt = { why: 'failed'; error: unknown } | { why: 'job-ended' } | { why: 'out-of-time' };
const HALT_RANK: Record<Halt['why'], number> = { 'out-of-time': 0, 'job-ended': 1, failed: 2 };

/**
 * The job's iterations not yet counted and not this runner's, last first: the others do theirs
 * first to last. The job is marked as stealing before any is asked for (see generateIteration).
 */
async function othersLeft(deps: RunDeps, jobId: string, runner: number, runners: number): Promise<Pending[]> {
  const job = await deps.jobs.get(jobId);
  if (!job || isTerminal(job.status)) return [];
  const uncounted = othersIterations(runner, runners, job.params.n_iter).filter((i) => !job.counted?.has(i));
  // Those being made now are not worth a lease each to find that out: only the ones no runner has
  // begun (its runner not started yet, or waiting) are taken. One began since is caught under its
  // lease (heldElsewhere), as before.
  const held = uncounted.length > 0 ? await deps.pool.holdersOf(jobId) : new Set<string>();
  const left: Pending[] = uncounted
    .filter((i) => !held.has(`${jobId}#${i}`))
    .map((i) => ({ ...pending(job, i), stolen: true }));
  if (left.length > 0 && !job.stealing) await deps.jobs.markStealing(jobId);
  return left;
}

/** An iteration to make, with the failed calls and hosts the job has recorded for it. */
function pending(job: JobRecord, iteration: number): Pending {
  const failedOn = job.failed_on?.[String(iteration)];
  return {
    iteration,
    attempt: job.attempts?.[String(iteration)] ?? 0,
    notBefore: 0,
    ...(failedOn?.length ? { avoidHosts: [...new Set(failedOn)] } : {}),
  };
}

/** The first look again comes after RECHECK_MS, each next one after twice as long, up to this. */
const MAX_RECHECK_MS = 1000;

const lookAgain = (item: Pending, now: number): Pending => {
  const looks = (item.looks ?? 0) + 1;
  return {
    ...item,
    taken: true,
    looks,
    notBefore: now + Math.min(MAX_RECHECK_MS, RECHECK_MS * 2 ** (looks - 1)),
  };
};

const firstReadyAt = (queue: Pending[]) =>
  queue.length === 0 ? undefined : Math.min(...queue.map((p) => p.notBefore));

const RECHECK = Symbol('recheck');

/** The wait before the next ask for a second slot, after `looks` asks refused while a call ran. */
export const busyRecheckMs = (looks: number) => Math.min(MAX_BUSY_RECHECK_MS, BUSY_RECHECK_MS * 2 ** looks);
const recheckAfter = (clock: Clock, ms: number) => clock.sleep(ms).then(() => RECHECK);

function takeReady(queue: Pending[], now: number): Pending | undefined {
  const index = queue.findIndex((p) => p.notBefore <= now);
  return index < 0 ? undefined : queue.splice(index, 1)[0];
}

/** Exponential back-off with full jitter, as the state machine's own Retry would wait. */
function backoffMs(attempt: number, deps: RunDeps): number {
  const { firstDelayMs, maxDelayMs } = deps.iterationRetry;
  return Math.random() * Math.min(maxDelayMs, firstDelayMs * 2 ** attempt);
}
