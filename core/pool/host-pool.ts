import { type Calibration, type HostRate, secondsPerUnit } from '../estimate.ts';
import { MAX_RUNNERS } from '../plan.ts';
import { LAST_ERROR_CHARS } from './outage.ts';
import {
  ADMISSION_RUNNER,
  ASSIGNED_MS,
  type Contender,
  contenders,
  inLine,
  type JobClaim,
  type Placer,
  preemptMargin,
  SLOTS_PER_RUNNER,
  type Waiter,
  waiterState,
} from './waiters.ts';

/** A host's id is its host:port: the same on every worker and across restarts (and its metrics' Host). */
export const hostIdOf = (baseUrl: string): string => new URL(baseUrl).host;

/** One GPU host of the pool: its id (stable across restarts) and how many calls it may hold. */
export interface HostSpec {
  id: string;
  /** Calls in flight at once: 2 keeps the next one queued inside SD WebUI while the last one uploads. */
  depth: number;
}

export interface SlotState {
  hostId: string;
  slot: number;
  holder?: string;
  jobId?: string;
  /** Epoch ms after which the lease is void (a crashed worker cannot hold a slot). */
  leaseUntil?: number;
  /** The host's speed as measured through this slot: seconds per step-megapixel by work class. */
  rates?: Record<string, number>;
  /** Epoch ms of the last measurement through this slot. */
  ratedAt?: number;
  /** What the holding job claimed when it took the lease (see waiters.ts). */
  claim?: JobClaim;
}

export interface HostHealth {
  hostId: string;
  failures: number;
  unhealthyUntil?: number;
  /** Epoch ms of its first failure since its last success (see outage.ts). */
  failingSince?: number;
  /** Its last failed call's error, cut to LAST_ERROR_CHARS. */
  lastError?: string;
}

/** Everything the pool's partition holds, read in one query. */
export interface PoolSnapshot {
  slots: SlotState[];
  health: HostHealth[];
  waiters: Waiter[];
}

export interface Lease {
  hostId: string;
  slot: number;
  holder: string;
  jobId: string;
  /**
   * When the lease lapses (epoch ms), as written with it: with the holder it names this lease and
   * no other, so a worker whose lease lapsed cannot release or hand over the one that replaced it.
   */
  until: number;
  /** The host's failure count when the lease was granted: a success on a clean host writes nothing. */
  hostFailures?: number;
  /**
   * The slot's rates when it was leased. Only the slot's holder writes them, so they are still
   * current at release, where a new measurement is averaged in without reading them again.
   */
  rates?: Record<string, number>;
}

export const FAILURES_BEFORE_REST = 3;
export const REST_MS = 30_000;

export const isHealthy = (health: HostHealth | undefined, now: number) =>
  !health?.unhealthyUntil || health.unhealthyUntil <= now;
export const isLive = (slot: SlotState, now: number) =>
  slot.holder !== undefined && (slot.leaseUntil ?? 0) > now;

/** One ask for a slot: the job's claim, the iteration's holder id and the runner asking. */
export interface SlotAsk {
  claim: JobClaim;
  holder: string;
  runner: number;
  /** The runner hands over a lease whose call is over: it is running, and keeps its place. */
  continuing?: boolean;
  /**
   * Hosts that failed this iteration: while any other host is healthy the ask waits for one of
   * its slots, so a host that fails every call cannot use up an iteration's tries.
   */
  avoidHosts?: string[];
  /**
   * A slot the job's admission set aside for this ask (see assignableSlots): taken with one
   * conditional write and no read of the pool, as the sweep that admitted the job read it.
   */
  assigned?: SlotRef;
}

/** One slot of one host. */
export interface SlotRef {
  hostId: string;
  slot: number;
}

/** A slot as an admission names it to a runner: `host:port#slot` (a host id has no '#'). */
export const slotKey = ({ hostId, slot }: SlotRef): string => `${hostId}#${slot}`;
export function parseSlotKey(key: string): SlotRef | undefined {
  const at = key.lastIndexOf('#');
  const slot = Number(key.slice(at + 1));
  return at > 0 && Number.isInteger(slot) && slot >= 0 ? { hostId: key.slice(0, at), slot } : undefined;
}

/**
 * What "Wait for the GPU pool" ends with when a job is admitted to `slots` free slots: a runner per
 * two of them (the Map's items, each doing every runners-th iteration, so the work is split among
 * the runners that run and none starts late to find its share taken), and the slots it names for
 * them by one write each (runner r the two from 2r) until `assigned_until` (see ASSIGNED_MS). Every
 * field is always there: the state machine's paths read them.
 */
export function admissionOutput(slots: number, assigned: SlotRef[], now: number) {
  const runners = Math.min(MAX_RUNNERS, Math.ceil(slots / SLOTS_PER_RUNNER));
  return {
    runners,
    runner_ids: Array.from({ length: runners }, (_, r) => r),
    slots,
    admitted_at: new Date(now).toISOString(),
    assigned: assigned.map(slotKey),
    assigned_until: now + ASSIGNED_MS,
  };
}

export type SlotChoice =
  | { hostId: string; slot: number; alternatives: Array<{ hostId: string; slot: number }> }
  | SlotRefusal;

/**
 * Why no slot now. `ahead` names the job that goes first, when that is the reason; `running`
 * says the same holder (the same iteration) already has a live lease elsewhere; `restingUntil`
 * says every host rests after failures, until then.
 */
export interface SlotRefusal {
  wait: string;
  ahead?: string;
  running?: true;
  restingUntil?: number;
}

/** A string's FNV-1a hash: the same number on every worker. */
function hashOf(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return hash;
}

/**
 * The free slots of healthy hosts, least loaded host first (each slot counted as loading its host
 * for the next; between equals, the host less loaded now). Hosts to avoid are left out unless
 * every healthy host is one of them. Ties go round the pool from a place of the asker's own (its
 * job's and its runner's), so the runners of a job starting together each try a slot of their own
 * first, not all the same one (each lost race is a failed conditional write).
 */
function freeSlots(
  hosts: HostSpec[],
  snapshot: PoolSnapshot,
  now: number,
  avoid: string[] = [],
  asker?: { jobId: string; runner: number },
) {
  const health = new Map(snapshot.health.map((h) => [h.hostId, h]));
  const live = snapshot.slots.filter((s) => isLive(s, now));
  const load = (h: HostSpec) => live.filter((s) => s.hostId === h.id).length / h.depth;
  const healthy = hosts.filter((h) => isHealthy(health.get(h.id), now));
  const preferred = healthy.filter((h) => !avoid.includes(h.id));
  const total = hosts.length;
  const start = asker ? (hashOf(asker.jobId) + asker.runner) % total : 0;
  const free: Array<{ hostId: string; slot: number; rank: number; load: number; tie: number }> = [];
  for (const host of preferred.length > 0 ? preferred : healthy) {
    const place = (hosts.indexOf(host) - start + total) % total;
    // A host's second free slot ranks as if its first were taken: a list of several spreads.
    let taken = 0;
    for (let slot = 0; slot < host.depth; slot++) {
      const state = snapshot.slots.find((s) => s.hostId === host.id && s.slot === slot);
      if (state && isLive(state, now)) continue;
      const current = load(host);
      free.push({ hostId: host.id, slot, rank: current + taken++ / host.depth, load: current, tie: place });
    }
  }
  return free
    .sort((a, b) => a.rank - b.rank || a.load - b.load || a.tie - b.tie)
    .map(({ hostId, slot }) => ({ hostId, slot }));
}

/**
 * The free slots an admission may hand its runners, least loaded host first (so a job's calls
 * spread over idle hosts before any queues behind another): those of healthy hosts with no
 * failures counted, as a lease taken without reading the pool assumes a clean host.
 */
export function assignableSlots(hosts: HostSpec[], snapshot: PoolSnapshot, now: number): SlotRef[] {
  const failing = new Set(snapshot.health.filter((h) => h.failures > 0).map((h) => h.hostId));
  return freeSlots(hosts, snapshot, now).filter((s) => !failing.has(s.hostId));
}

/** The jobs contending for the pool, from its live leases and its queue. */
export function poolContenders(snapshot: PoolSnapshot, now: number, place: Placer): Contender[] {
  const held = snapshot.slots
    .filter((s) => isLive(s, now) && s.jobId !== undefined)
    .map((s) => ({ jobId: s.jobId as string, claim: s.claim }));
  return contenders(held, snapshot.waiters, now, place);
}

/**
 * How many slots no live lease holds, resting hosts' included: what a waiter is woken for. A
 * runner woken onto a resting host waits out the rest in its own task (it has a deadline to wait
 * by); a waiter left asleep would hear of the rest's end from nobody, as a rest ends with no
 * release.
 */
export const unleasedSlotCount = (hosts: HostSpec[], snapshot: PoolSnapshot, now: number) =>
  hosts.reduce(
    (n, host) =>
      n +
      Array.from({ length: host.depth }, (_, slot) =>
        snapshot.slots.find((s) => s.hostId === host.id && s.slot === slot),
      ).filter((s) => !s || !isLive(s, now)).length,
    0,
  );

/**
 * Which slot this ask may lease now, or why it must wait. The jobs ahead of it in line (see
 * waiters.ts) keep as many free slots as they can still use; a job already running keeps its
 * slots unless a waiting one is ahead by more than preemptMargin, or another running job is
 * ahead at all (so two jobs that started together do not share one host call by call). With more free slots than
 * the jobs ahead can use, the ask gets one of the rest.
 */
export function chooseSlot(
  hosts: HostSpec[],
  snapshot: PoolSnapshot,
  ask: SlotAsk,
  now: number,
  place: Placer,
): SlotChoice {
  const live = snapshot.slots.filter((s) => isLive(s, now));
  // One lease per holder: an iteration another worker is already making is not made twice.
  const running = live.find((s) => s.holder === ask.holder);
  if (running) return { wait: `${ask.holder} is already running on ${running.hostId}`, running: true };

  const health = new Map(snapshot.health.map((h) => [h.hostId, h]));
  if (!hosts.some((h) => isHealthy(health.get(h.id), now))) {
    const restingUntil = Math.min(
      ...snapshot.health.map((h) => h.unhealthyUntil ?? Number.POSITIVE_INFINITY),
    );
    return { wait: 'every GPU host is resting after repeated failures', restingUntil };
  }

  const all = poolContenders(snapshot, now, place);
  const me = all.find((c) => c.jobId === ask.claim.jobId);
  const mine = { ...place(ask.claim), since: me?.since ?? now, jobId: ask.claim.jobId };
  const isRunning = (me?.held ?? 0) > 0 || ask.continuing === true;
  // A waiting job must be well ahead to take a running one's slot (a swap costs a wait); between
  // two running jobs the one ahead gets the next free slot, so they do not split the host for good.
  const ahead = all
    .filter((c) => c.jobId !== ask.claim.jobId && c.unmet > 0)
    .filter((c) =>
      isRunning && c.held === 0 ? c.prio < mine.prio - preemptMargin(mine.workMs) : inLine(c, mine) < 0,
    )
    .sort(inLine);
  const kept = ahead.reduce((n, c) => n + c.unmet, 0);
  const free = freeSlots(hosts, snapshot, now, ask.avoidHosts, {
    jobId: ask.claim.jobId,
    runner: ask.runner,
  });
  if (free.length <= kept) {
    const first = ahead[0];
    return first
      ? { wait: `another job (${first.jobId}) is ahead in the queue`, ahead: first.jobId }
      : { wait: 'every slot of every healthy GPU host is busy' };
  }
  const [chosen, ...alternatives] = free;
  return { ...(chosen as { hostId: string; slot: number }), alternatives };
}

/**
 * The waiter a running job's finished call must give its slot to, rather than hand it to the
 * job's next call; undefined when the job keeps it. Decided from the head of the line alone (no
 * read of the slots): a job waiting for admission must be ahead by more than preemptMargin, a
 * running job's runner refused a slot (or asking for its second) ahead at all, as chooseSlot rules.
 */
export function handOverYieldsTo(
  line: readonly Waiter[],
  claim: JobClaim,
  now: number,
  place: Placer,
): Waiter | undefined {
  const mine = { ...place(claim), since: now, jobId: claim.jobId };
  const placed = line
    .filter((w) => w.jobId !== claim.jobId && ['asking', 'waiting', 'lost'].includes(waiterState(w, now)))
    .map((w) => ({ w, c: { ...place(w), since: w.since, jobId: w.jobId } }));
  const ahead = placed.filter(({ w, c }) =>
    w.runner === ADMISSION_RUNNER ? c.prio < mine.prio - preemptMargin(mine.workMs) : inLine(c, mine) < 0,
  );
  return ahead.sort((a, b) => inLine(a.c, b.c))[0]?.w;
}

/**
 * Health after a call: a success clears the count, the third failure in a row rests the host for
 * `restMs` (REST_MS unless the pool is told otherwise). A failure keeps when the host began failing
 * and its error.
 */
export function nextHealth(
  current: HostHealth | undefined,
  hostId: string,
  ok: boolean,
  now: number,
  restMs = REST_MS,
  error?: string,
): HostHealth {
  if (ok) return { hostId, failures: 0 };
  const failures = (current?.failures ?? 0) + 1;
  const failing = {
    hostId,
    failures,
    failingSince: current?.failingSince ?? now,
    ...(error ? { lastError: error.slice(0, LAST_ERROR_CHARS) } : {}),
  };
  return failures >= FAILURES_BEFORE_REST ? { ...failing, unhealthyUntil: now + restMs } : failing;
}

/**
 * Each host's measured speed, from what one snapshot holds. Every slot keeps its own average
 * (written by its own holder at release, so no two writers race); a host's rate for a work class
 * is the mean over its slots. Without configured hosts (a reader that only knows their number),
 * every host the pool has records of.
 */
export function hostRatesOf(hosts: HostSpec[], snapshot: PoolSnapshot, now: number): HostRate[] {
  const health = new Map(snapshot.health.map((h) => [h.hostId, h]));
  const configured = new Map(hosts.map((h) => [h.id, h.depth]));
  const ids =
    hosts.length > 0
      ? hosts.map((h) => h.id)
      : [...new Set([...snapshot.slots.map((s) => s.hostId), ...snapshot.health.map((h) => h.hostId)])];
  return ids.map((hostId) => {
    const depth = configured.get(hostId) ?? Number.POSITIVE_INFINITY;
    const slots = snapshot.slots.filter((s) => s.hostId === hostId && s.slot < depth && s.rates);
    const sums = new Map<string, { sum: number; n: number }>();
    for (const slot of slots) {
      for (const [key, rate] of Object.entries(slot.rates ?? {})) {
        const acc = sums.get(key) ?? { sum: 0, n: 0 };
        sums.set(key, { sum: acc.sum + rate, n: acc.n + 1 });
      }
    }
    return {
      hostId,
      healthy: isHealthy(health.get(hostId), now),
      measuredAt: Math.max(0, ...slots.map((s) => s.ratedAt ?? 0)),
      rates: Object.fromEntries([...sums].map(([key, { sum, n }]) => [key, sum / n])),
    };
  });
}

/** The pool's rates per work class, averaged over every slot that has measured one. */
export function pooledRates(snapshot: PoolSnapshot): Record<string, number> {
  const sums = new Map<string, { sum: number; n: number }>();
  for (const slot of snapshot.slots) {
    for (const [key, rate] of Object.entries(slot.rates ?? {})) {
      const acc = sums.get(key) ?? { sum: 0, n: 0 };
      sums.set(key, { sum: acc.sum + rate, n: acc.n + 1 });
    }
  }
  return Object.fromEntries([...sums].map(([key, { sum, n }]) => [key, sum / n]));
}

/**
 * Places in line at this pool's rates (the calibration where none is measured): every claim a
 * decision compares is placed at the same rates.
 */
export function placerFor(snapshot: PoolSnapshot, calibration: Calibration): Placer {
  const rates = pooledRates(snapshot);
  return (claim) => {
    const workMs = Math.round(1000 * claim.work * secondsPerUnit(claim.rateKey, calibration, rates));
    return { prio: claim.createdAt + workMs, workMs };
  };
}
