import type { HostRate } from '../core/estimate.ts';
import type { GatewayDeps } from './deps.ts';

/**
 * One read shared by every caller for `maxAgeMs`, for values that drift slowly: the hosts'
 * measured rates are moving averages updated once per finished SD WebUI call, so a status poll
 * can use a reading a second or two old instead of querying the pool itself. A read
 * that fails is not kept; the next caller reads again.
 */
export function recentRead<T>(
  read: () => Promise<T>,
  maxAgeMs: number,
  clock: () => number = Date.now,
): () => Promise<T> {
  let kept: { at: number; value: Promise<T> } | undefined;
  return () => {
    const now = clock();
    if (kept && now - kept.at < maxAgeMs) return kept.value;
    const entry = { at: now, value: read() };
    kept = entry;
    entry.value.catch(() => {
      if (kept === entry) kept = undefined;
    });
    return entry.value;
  };
}

/** How old the hosts' rates a status poll's ETA uses may be. */
const HOST_RATES_MAX_AGE_MS = 2_000;

/** The gateway's two readers of the hosts' rates (see GatewayDeps). */
export function hostRateReaders(
  read: () => Promise<HostRate[]>,
): Required<Pick<GatewayDeps, 'hostRates' | 'recentHostRates'>> {
  return { hostRates: read, recentHostRates: recentRead(read, HOST_RATES_MAX_AGE_MS) };
}
