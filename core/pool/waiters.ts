/**
 * The pool's queue of generate tasks waiting for a GPU slot, and who goes first.
 *
 * A job waits for the pool once, as a whole, before any of its runners starts: its execution
 * sits in a callback task ("Wait for the GPU pool") whose token is kept here, and it is admitted
 * with as many runners as there are free slots for it (ADMISSION_RUNNER). A runner refused a slot
 * later on (the job ahead took it back) waits the same way in "Wait for a GPU slot". Whoever frees
 * a slot wakes the next waiter with SendTaskSuccess. Waiting therefore costs no Lambda time, no
 * state transitions and a fixed number of history events, however long it lasts; and a queued
 * job holds one place in line however many runners it has.
 *
 * Order: every job has a place in line: when it was created plus the GPU time its unfinished
 * images need. Earlier goes first. A small job started behind a big one has the earlier place and
 * starts within the big one's next calls; two big jobs run one after the other rather than taking
 * turns (which would bill a second Lambda for every call and add a wait to every turn); and a
 * job's place only comes closer while it waits, so nothing waits forever: a job that has waited as
 * long as its own remaining work goes before any job that arrives later.
 *
 * A place is computed when a decision is made, from what the job claims (its creation time and
 * the work its unfinished images need) and the pool's measured speed at that moment, so two jobs
 * are always compared at the same rates: the order of equal jobs cannot drift with estimates.
 */

/** Calls one generate task keeps in flight (see plan.ts); a woken runner fills this many slots. */
export const SLOTS_PER_RUNNER = 2;

/** The "runner" of a job's own wait for admission (see above): before any runner starts. */
export const ADMISSION_RUNNER = -1;

/**
 * A waiting job takes slots from a running one only when its place is earlier by this much, or
 * by a quarter of the running job's own remaining work if that is less: estimates are estimates,
 * and a swap costs a wait and a second Lambda for one call.
 */
export const PREEMPT_MARGIN_MS = 60_000;

/** How much earlier a waiter's place must be to take slots from a running job with `workMs` left. */
export const preemptMargin = (workMs: number) => Math.min(PREEMPT_MARGIN_MS, workMs / 4);

/** A runner refused a slot asks again or reaches its Wait state within seconds; past this it is gone. */
export const REGISTER_GRACE_MS = 60_000;

/** A woken runner asks again within seconds; until then its slots are kept for it. */
export const WAKE_GRACE_MS = 60_000;

/**
 * Live runners sweep the queue this often, so a wake-up lost with its worker is sent again while
 * anything runs; when nothing does, the Wait states' HeartbeatSeconds (no heartbeat is ever sent:
 * one per waiter would cost a request per waiter per interval, however long the queue) bounds it.
 */
export const SWEEP_EVERY_MS = 60_000;

/** What a job claims of the pool, as recorded with its leases and its waiting runners. */
export interface JobClaim {
  jobId: string;
  /** Epoch ms the job was created. */
  createdAt: number;
  /** Sampling work its unfinished iterations need, in step-megapixels (see imageWork). */
  work: number;
  /** The work class its rate is measured under (see rateKey). */
  rateKey: string;
  /** Slots it can use at once: two per runner, never more than its unfinished iterations. */
  want: number;
  /**
   * Where its waiters sort in the queue's storage: its creation plus its whole work, the same for
   * every runner of the job at any time, so any of them finds the job's places again. (Decisions
   * place it from the claim itself; see Placer.) Its creation when not given.
   */
  order?: number;
}

/** A claim's place in line at the pool's current rates: epoch ms, and the GPU time it stands for. */
export interface Place {
  prio: number;
  workMs: number;
}
export type Placer = (claim: JobClaim) => Place;

/** One waiting runner of a job. */
export interface Waiter extends JobClaim {
  runner: number;
  /** When this runner first waited (epoch ms); ties in place go to the earlier. */
  since: number;
  /**
   * Until when its claim stands without a token: REGISTER_GRACE_MS after a refusal (it asks again
   * or reaches its Wait state by then). A runner past it, with no token, is gone.
   */
  askUntil: number;
  /**
   * Where the waiting callback task's token is kept, once its Wait state has registered it (the
   * tokens live apart from the line: a decision reads the line, never the tokens).
   */
  token?: string;
  /** When it was woken; it keeps its claim for WAKE_GRACE_MS while it comes back. */
  wokenAt?: number;
  /** The slots a woken admission named for its runners (`host:port#slot`), kept from other admissions. */
  assigned?: string[];
}

/** A live lease, as the queue sees it: whose, and what that job claimed when it took it. */
export interface HeldSlot {
  jobId: string;
  claim?: JobClaim;
}

export type WaiterState = 'asking' | 'waiting' | 'woken' | 'lost' | 'stale';

/**
 * - asking: refused lately, no token: a runner that will ask again, or one on its way to its Wait state; it claims its place and the
 *   slots it could use
 * - waiting: registered, not woken: the one to wake when its turn comes
 * - woken: woken recently; it claims its slots until it asks again
 * - lost: woken long ago and never came back (a lost wake-up): wake it again
 * - stale: refused long ago and never registered: its runner is gone
 */
export function waiterState(w: Waiter, now: number): WaiterState {
  if (!w.token) return now < w.askUntil ? 'asking' : 'stale';
  if (w.wokenAt === undefined) return 'waiting';
  return now - w.wokenAt < WAKE_GRACE_MS ? 'woken' : 'lost';
}

export const isWakeable = (w: Waiter, now: number) => {
  const state = waiterState(w, now);
  return state === 'waiting' || state === 'lost';
};

/** A job competing for slots: its place, what it holds and what more it asks for. */
export interface Contender extends Place {
  jobId: string;
  since: number;
  held: number;
  /** Slots it asks for beyond those it holds (none unless one of its runners asked and waits). */
  unmet: number;
  /** Its runners that are waiting to be woken, first come first. */
  wakeable: Waiter[];
}

/**
 * Every job with a claim on the pool, merged per job from its live leases and its waiting
 * runners; its place is the earliest any of them gives. A job asks for more slots than it holds
 * only while one of its runners has been refused and waits (or asks again): the room a lease
 * claimed when it was taken is not kept for a job that has stopped asking, a job near its end.
 */
export function contenders(
  held: readonly HeldSlot[],
  waiters: readonly Waiter[],
  now: number,
  place: Placer,
): Contender[] {
  const byJob = new Map<string, Contender & { want: number; asking: boolean }>();
  const entry = (jobId: string) => {
    let c = byJob.get(jobId);
    if (!c) {
      c = {
        jobId,
        prio: Number.POSITIVE_INFINITY,
        workMs: 0,
        since: now,
        held: 0,
        unmet: 0,
        want: 0,
        asking: false,
        wakeable: [],
      };
      byJob.set(jobId, c);
    }
    return c;
  };
  const consider = (c: Contender & { want: number }, claim: JobClaim) => {
    const p = place(claim);
    if (p.prio < c.prio) Object.assign(c, p);
    c.want = Math.max(c.want, claim.want);
  };
  for (const slot of held) {
    const c = entry(slot.jobId);
    c.held++;
    if (slot.claim) consider(c, slot.claim);
  }
  for (const w of waiters) {
    const state = waiterState(w, now);
    if (state === 'stale') continue;
    const c = entry(w.jobId);
    consider(c, w);
    c.since = Math.min(c.since, w.since);
    c.asking = true;
    if (isWakeable(w, now)) c.wakeable.push(w);
  }
  return [...byJob.values()].map(({ want, asking, ...c }) => ({
    ...c,
    unmet: asking ? Math.max(0, want - c.held) : 0,
    wakeable: c.wakeable.sort((a, b) => a.since - b.since),
  }));
}

/** First in line: earlier place, then earlier wait, then job id (so every worker agrees). */
export const inLine = (
  a: Pick<Contender, 'prio' | 'since' | 'jobId'>,
  b: Pick<Contender, 'prio' | 'since' | 'jobId'>,
): number => a.prio - b.prio || a.since - b.since || (a.jobId < b.jobId ? -1 : a.jobId > b.jobId ? 1 : 0);

/** A waiter to wake, and the free slots that are its to take. */
export type Wake = Waiter & { slots: number };

/**
 * How long the slots an admission names stay its runners' to take without reading the pool: its
 * first runners start within seconds; past this, a runner (one started again later, say) asks as
 * any other does.
 */
export const ASSIGNED_MS = 15_000;

/**
 * The waiters to wake now that `free` slots are free: slots go down the line to the jobs that ask
 * for more, a running job's share taken without a wake-up (its own runner asks again after its
 * current call). A job waiting for admission is admitted with its whole share (its runners take
 * exactly those slots); a waiting job's runners are woken one per two slots.
 */
export function planWakes(contending: readonly Contender[], free: number): Wake[] {
  const woken: Wake[] = [];
  let left = free;
  for (const c of [...contending].filter((x) => x.unmet > 0).sort(inLine)) {
    if (left <= 0) break;
    const share = Math.min(c.unmet, left);
    left -= share;
    const admission = c.wakeable.find((w) => w.runner === ADMISSION_RUNNER);
    if (admission) {
      woken.push({ ...admission, slots: share });
      continue;
    }
    const runners = c.wakeable.slice(0, Math.ceil(share / SLOTS_PER_RUNNER));
    runners.forEach((w, i) => {
      woken.push({ ...w, slots: Math.min(SLOTS_PER_RUNNER, share - i * SLOTS_PER_RUNNER) });
    });
  }
  return woken;
}

/** What a slot just freed calls for (see freedSlotGoesTo). */
export type FreedSlot = { wake: Waiter } | { sweep: true } | { none: true };

/**
 * Who gets a slot its holder just let go, decided from the head of the line alone where that is
 * enough: when the first in line (other than the job that let it go) is a job waiting for
 * admission, it is admitted to this one slot, and the pool (whose read grows with its hosts) is
 * not read. A runner of a running job first in line, a job admitted whose runners are on their
 * way, or anything to clear up (a stale place, the releasing job's own waiting runner) calls for
 * the full sweep, which weighs what each job holds.
 */
export function freedSlotGoesTo(
  line: readonly Waiter[],
  released: string,
  now: number,
  place: Placer,
): FreedSlot {
  if (line.some((w) => waiterState(w, now) === 'stale')) return { sweep: true };
  if (line.some((w) => w.jobId === released && isWakeable(w, now))) return { sweep: true };
  const others = line.filter((w) => w.jobId !== released);
  if (!others.some((w) => isWakeable(w, now))) return { none: true };
  const placed = (w: Waiter) => ({ ...place(w), since: w.since, jobId: w.jobId });
  const first = [...others].sort((a, b) => inLine(placed(a), placed(b)))[0] as Waiter;
  return first.runner === ADMISSION_RUNNER && isWakeable(first, now) ? { wake: first } : { sweep: true };
}
