/**
 * One read shared by every caller for `maxAgeMs`, for values that drift slowly: the hosts'
 * measured rates are moving averages updated once per finished SD WebUI call, so a start or
 * status call can use a reading a second or two old instead of querying the pool itself. A read
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

/** How old the hosts' rates an estimate uses may be. */
export const HOST_RATES_MAX_AGE_MS = 2_000;
