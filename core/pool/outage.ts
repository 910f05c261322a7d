import { z } from 'zod';
import { formatDuration } from '../duration.ts';
import type { HostHealth, HostSpec } from './host-pool.ts';

/**
 * How long a job's iterations are still tried once no host of the pool has completed a call: past
 * it, the rest fail at once with the hosts' last errors instead of each being tried four times
 * with rests between (hours for a large job on a dead host). Longer than a host's restart or a
 * flap (a host that answers again within a minute loses nothing), short enough that a 100-iteration
 * job on a dead host ends within minutes.
 */
export const OUTAGE_MS = 120_000;

/** Every host of the pool failing, as its health records say: what a job waits for. */
export const PoolOutage = z.object({
  /** Epoch ms since when no host has completed a call: the last host's first failure. */
  since: z.number(),
  hosts: z.array(
    z.object({
      host_id: z.string(),
      /** Epoch ms of its first failure since its last success. */
      failing_since: z.number(),
      last_error: z.string().optional(),
    }),
  ),
});
export type PoolOutage = z.infer<typeof PoolOutage>;

/** The longest last error kept per host: enough to name the fault, small in the job item. */
export const LAST_ERROR_CHARS = 300;

/**
 * The pool's outage, or undefined while any configured host has not failed since its last success
 * (a host never called counts as able to work).
 */
export function poolOutage(hosts: HostSpec[], health: HostHealth[]): PoolOutage | undefined {
  if (hosts.length === 0) return undefined;
  const failing: PoolOutage['hosts'] = [];
  for (const host of hosts) {
    const h = health.find((each) => each.hostId === host.id);
    if (h?.failingSince === undefined) return undefined;
    failing.push({
      host_id: host.id,
      failing_since: h.failingSince,
      ...(h.lastError ? { last_error: h.lastError } : {}),
    });
  }
  return { since: Math.max(...failing.map((h) => h.failing_since)), hosts: failing };
}

/**
 * When a job stops trying: the bound counted from the outage's start or the job's, whichever is
 * later, so a job started on a pool that failed long ago still tries its hosts for the bound (one
 * repaired since is found), and every runner of the job, restarted or not, reads the same time.
 */
export const giveUpAt = (outage: PoolOutage, jobStartMs: number, boundMs = OUTAGE_MS): number =>
  Math.max(outage.since, jobStartMs) + boundMs;

/** "127.0.0.1:7861 failing since 20:01:02Z (2m 10s), last error: …; …": what the job waits for. */
export function describeOutage(outage: PoolOutage, nowMs: number): string {
  return outage.hosts
    .map((h) => {
      const since = new Date(h.failing_since).toISOString().slice(11, 19);
      const error = h.last_error ? `, last error: ${h.last_error}` : '';
      return `${h.host_id} failing since ${since}Z (${formatDuration((nowMs - h.failing_since) / 1000)})${error}`;
    })
    .join('; ');
}

/** The failure recorded for an iteration given up on: the outage's length and each host's last error. */
export const outageFailure = (outage: PoolOutage, nowMs: number): string =>
  `no GPU host completed a call for ${formatDuration((nowMs - outage.since) / 1000)}, so the job's remaining iterations were not tried: ${describeOutage(outage, nowMs)}`;

/** What status says a running job in an outage waits for, in place of a time left. */
export const waitingForHost = (outage: PoolOutage, nowMs: number): string =>
  `waiting for a GPU host: ${describeOutage(outage, nowMs)}`;
