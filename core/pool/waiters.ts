/**
 * The pool's queue of generate tasks waiting for a GPU slot, and who goes first.
 *
 * A runner refused a slot ends its Lambda; its execution then sits in a callback task ("Wait for
 * a GPU slot") whose token is recorded here, and whoever frees a slot wakes the next waiter with
 * SendTaskSuccess. Waiting therefore costs no Lambda time, no state transitions and a fixed
 * number of history events, however long it lasts.
 *
 * Order: every job has a place in line, `prio` = when it was created plus the GPU time its
 * unfinished images still need. Earlier goes first. A small job started behind a big one has the
 * earlier place and starts within the big one's next calls; two big jobs run one after the other
 * rather than taking turns (which would bill a second Lambda for every call and add a wait to
 * every turn); and a job's place only comes closer while it waits, so nothing waits forever: a
 * job that has waited as long as its own remaining work goes before any job that arrives later.
 */

/** Calls one generate task keeps in flight (see plan.ts); a woken runner fills this many slots. */
export const SLOTS_PER_RUNNER = 2;

/**
 * A running job keeps its slots against a waiting one unless the waiter's place is earlier by
 * this much, or by a quarter of the running job's own remaining work if that is less: estimates
 * are estimates, and a swap costs a wait and a second Lambda for one call.
 */
export const PREEMPT_MARGIN_MS = 60_000;

/** How much earlier a waiter's place must be to take slots from a running job with `workMs` left. */
export const preemptMargin = (workMs: number) => Math.min(PREEMPT_MARGIN_MS, workMs / 4);

/** A runner refused a slot reaches its Wait state within seconds; one that has not by then is gone. */
export const REGISTER_GRACE_MS = 60_000;

/** A woken runner asks again within seconds; until then its slots are kept for it. */
export const WAKE_GRACE_MS = 60_000;

/**
 * Live runners send each waiter a heartbeat this often; the Wait state's HeartbeatSeconds
 * (600 s) is the bound on a lost wake-up when no runner is left to sweep the queue.
 */
export const HEARTBEAT_EVERY_MS = 120_000;

/** What a job asks the pool with. */
export interface JobClaim {
  jobId: string;
  /** Its place in line (epoch ms): created_at plus the GPU time its unfinished images need. */
  prio: number;
  /** The GPU time its unfinished images need (ms), as estimated for `prio`. */
  workMs: number;
  /** Slots it can use at once: two per runner, never more than its unfinished iterations. */
  want: number;
}

/** One waiting runner of a job. */
export interface Waiter {
  jobId: string;
  runner: number;
  prio: number;
  want: number;
  /** When this runner first waited (epoch ms); ties in `prio` go to the earlier. */
  since: number;
  /** The waiting callback task's token, once its Wait state has registered it. */
  token?: string;
  /** When it was woken; it keeps its claim for WAKE_GRACE_MS while it comes back. */
  wokenAt?: number;
  /** When its heartbeat was last sent (or its token registered). */
  beatAt?: number;
}

/** A live lease, as the queue sees it: whose, and what that job claimed when it took it. */
export interface HeldSlot {
  jobId: string;
  prio?: number;
  want?: number;
}

export type WaiterState = 'registering' | 'waiting' | 'woken' | 'lost' | 'stale';

/**
 * - registering: refused, its Wait state has not registered a token yet (it claims its place)
 * - waiting: registered, not woken: the one to wake when its turn comes
 * - woken: woken recently; it claims its slots until it asks again
 * - lost: woken long ago and never came back (a lost wake-up): wake it again
 * - stale: refused long ago and never registered: its runner is gone
 */
export function waiterState(w: Waiter, now: number): WaiterState {
  if (!w.token) return now - w.since < REGISTER_GRACE_MS ? 'registering' : 'stale';
  if (w.wokenAt === undefined) return 'waiting';
  return now - w.wokenAt < WAKE_GRACE_MS ? 'woken' : 'lost';
}

const claims = (w: Waiter, now: number) => {
  const state = waiterState(w, now);
  return state === 'registering' || state === 'waiting' || state === 'woken';
};
export const isWakeable = (w: Waiter, now: number) => {
  const state = waiterState(w, now);
  return state === 'waiting' || state === 'lost';
};

/** A job competing for slots: what it holds and what more it could use. */
export interface Contender {
  jobId: string;
  prio: number;
  since: number;
  held: number;
  /** Slots it could still use: its want less what it holds. */
  unmet: number;
  /** Its runners that are waiting to be woken, first come first. */
  wakeable: Waiter[];
}

/**
 * Every job with a claim on the pool: those holding live leases and those waiting, merged per
 * job. A job's place is the earliest any of its leases or waiters gave.
 */
export function contenders(held: readonly HeldSlot[], waiters: readonly Waiter[], now: number): Contender[] {
  const byJob = new Map<string, Contender & { want: number }>();
  const entry = (jobId: string) => {
    let c = byJob.get(jobId);
    if (!c) {
      c = { jobId, prio: Number.POSITIVE_INFINITY, since: now, held: 0, unmet: 0, want: 0, wakeable: [] };
      byJob.set(jobId, c);
    }
    return c;
  };
  for (const slot of held) {
    const c = entry(slot.jobId);
    c.held++;
    if (slot.prio !== undefined) c.prio = Math.min(c.prio, slot.prio);
    c.want = Math.max(c.want, slot.want ?? 0);
  }
  for (const w of waiters) {
    if (!claims(w, now) && !isWakeable(w, now)) continue;
    const c = entry(w.jobId);
    c.prio = Math.min(c.prio, w.prio);
    c.since = Math.min(c.since, w.since);
    c.want = Math.max(c.want, w.want);
    if (isWakeable(w, now)) c.wakeable.push(w);
  }
  return [...byJob.values()].map(({ want, ...c }) => ({
    ...c,
    unmet: Math.max(0, want - c.held),
    wakeable: c.wakeable.sort((a, b) => a.since - b.since),
  }));
}

/** First in line: earlier place, then earlier wait, then job id (so every worker agrees). */
export const inLine = (a: Contender, b: Contender): number =>
  a.prio - b.prio || a.since - b.since || (a.jobId < b.jobId ? -1 : a.jobId > b.jobId ? 1 : 0);

/**
 * The runners to wake now that `free` slots are free: slots go down the line to the jobs with an
 * unmet claim, a running job's claim taking its share without a wake-up (its own runner asks
 * again after its current call), a waiting job's runners woken one per two slots.
 */
export function planWakes(contending: readonly Contender[], free: number): Waiter[] {
  const woken: Waiter[] = [];
  let left = free;
  for (const c of [...contending].filter((x) => x.unmet > 0).sort(inLine)) {
    if (left <= 0) break;
    const share = Math.min(c.unmet, left);
    left -= share;
    woken.push(...c.wakeable.slice(0, Math.ceil(share / SLOTS_PER_RUNNER)));
  }
  return woken;
}

/** Waiters whose heartbeat is due: registered, not woken, last beat HEARTBEAT_EVERY_MS ago. */
export function heartbeatsDue(waiters: readonly Waiter[], now: number): Waiter[] {
  return waiters.filter(
    (w) => waiterState(w, now) === 'waiting' && now - (w.beatAt ?? w.since) >= HEARTBEAT_EVERY_MS,
  );
}
