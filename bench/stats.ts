/** Small numeric helpers for the benchmark: percentiles and unions of time intervals. */

export interface Interval {
  start: number;
  end: number;
}

/** Nearest-rank percentile (p in 0..100) of an unsorted sample; NaN when it is empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1] as number;
}

export const median = (values: readonly number[]): number => percentile(values, 50);

export const sum = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0);

/** Total length of the union of intervals, clipped to [from, to]. */
export function unionLength(intervals: readonly Interval[], from = -Infinity, to = Infinity): number {
  const clipped = intervals
    .map((i) => ({ start: Math.max(i.start, from), end: Math.min(i.end, to) }))
    .filter((i) => i.end > i.start)
    .sort((a, b) => a.start - b.start);
  let total = 0;
  let cursor = -Infinity;
  for (const { start, end } of clipped) {
    const s = Math.max(start, cursor);
    if (end > s) total += end - s;
    cursor = Math.max(cursor, end);
  }
  return total;
}

/** The idle gaps between consecutive intervals (sorted by start), in ms. */
export function gaps(intervals: readonly Interval[]): number[] {
  const sorted = [...intervals].sort((a, b) => a.start - b.start);
  const out: number[] = [];
  let cursor: number | undefined;
  for (const { start, end } of sorted) {
    if (cursor !== undefined) out.push(Math.max(0, start - cursor));
    cursor = cursor === undefined ? end : Math.max(cursor, end);
  }
  return out;
}

/** Epoch milliseconds with sub-millisecond resolution, comparable across processes on one machine. */
export const epochNow = (): number => performance.timeOrigin + performance.now();

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
