import type { HostRate } from '../estimate.ts';

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
}

export interface HostHealth {
  hostId: string;
  failures: number;
  unhealthyUntil?: number;
}

/** A job that asked for a slot and did not get one: since when, and when it last asked. */
export interface Waiter {
  jobId: string;
  since: number;
  seen: number;
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
  /** The host's failure count when the lease was granted: a success on a clean host writes nothing. */
  hostFailures?: number;
  /**
   * The slot's rates when it was leased. Only the slot's holder writes them, so they are still
   * current at release, where a new measurement is averaged in without reading them again.
   */
  rates?: Record<string, number>;
}

/**
 * A waiter that has not asked again for this long has stopped waiting (its job ended or was
 * cancelled). Live waiters ask at least every second or two (the state machine's retry).
 */
export const WAITER_FRESH_MS = 4_000;
export const FAILURES_BEFORE_REST = 3;
export const REST_MS = 30_000;

export const isHealthy = (health: HostHealth | undefined, now: number) =>
  !health?.unhealthyUntil || health.unhealthyUntil <= now;
const isLive = (slot: SlotState, now: number) => slot.holder !== undefined && (slot.leaseUntil ?? 0) > now;

export type SlotChoice =
  | { hostId: string; slot: number; alternatives: Array<{ hostId: string; slot: number }> }
  | SlotRefusal;

/**
 * Why no slot now; `ahead` names the waiting job that goes first, when that is the reason;
 * `running` says the same holder (the same iteration) already has a live lease elsewhere.
 */
export interface SlotRefusal {
  wait: string;
  ahead?: string;
  running?: true;
}

/**
 * Which slot job `jobId` may lease now, or why it must wait. Fair by construction: a job may take
 * a free slot only when no other waiting job holds fewer live slots (ties go to whoever has
 * waited longer), so concurrent jobs share the pool round-robin whatever their sizes.
 */
export function chooseSlot(
  hosts: HostSpec[],
  snapshot: PoolSnapshot,
  jobId: string,
  now: number,
  holder?: string,
): SlotChoice {
  const live = snapshot.slots.filter((s) => isLive(s, now));
  // One lease per holder: an iteration another worker is already making is not made twice.
  const running = holder === undefined ? undefined : live.find((s) => s.holder === holder);
  if (running) return { wait: `${holder} is already running on ${running.hostId}`, running: true };

  const health = new Map(snapshot.health.map((h) => [h.hostId, h]));
  const healthy = hosts.filter((h) => isHealthy(health.get(h.id), now));
  if (healthy.length === 0) return { wait: 'every GPU host is resting after repeated failures' };

  const held = (job: string) => live.filter((s) => s.jobId === job).length;
  const mine = held(jobId);
  const me = snapshot.waiters.find((w) => w.jobId === jobId && now - w.seen < WAITER_FRESH_MS);
  const myWait = me?.since ?? now;
  const ahead = snapshot.waiters.find(
    (w) =>
      w.jobId !== jobId &&
      now - w.seen < WAITER_FRESH_MS &&
      (held(w.jobId) < mine || (held(w.jobId) === mine && w.since < myWait)),
  );
  if (ahead) return { wait: `another job (${ahead.jobId}) is ahead in the queue`, ahead: ahead.jobId };

  // The least loaded healthy host first, so work spreads over the pool; ties in random order, so
  // workers asking at the same moment do not all race for the same slot.
  const load = (h: HostSpec) => live.filter((s) => s.hostId === h.id).length / h.depth;
  const free: Array<{ hostId: string; slot: number; load: number; tie: number }> = [];
  for (const host of healthy) {
    for (let slot = 0; slot < host.depth; slot++) {
      const state = snapshot.slots.find((s) => s.hostId === host.id && s.slot === slot);
      if (!state || !isLive(state, now))
        free.push({ hostId: host.id, slot, load: load(host), tie: Math.random() });
    }
  }
  free.sort((a, b) => a.load - b.load || a.tie - b.tie);
  const [first, ...rest] = free.map(({ hostId, slot }) => ({ hostId, slot }));
  if (first) return { ...first, alternatives: rest };
  return { wait: 'every slot of every healthy GPU host is busy' };
}

/** Health after a call: a success clears the count, the third failure in a row rests the host. */
export function nextHealth(
  current: HostHealth | undefined,
  hostId: string,
  ok: boolean,
  now: number,
): HostHealth {
  if (ok) return { hostId, failures: 0 };
  const failures = (current?.failures ?? 0) + 1;
  return failures >= FAILURES_BEFORE_REST
    ? { hostId, failures, unhealthyUntil: now + REST_MS }
    : { hostId, failures };
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
