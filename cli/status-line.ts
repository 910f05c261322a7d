import { formatDuration } from '../core/duration.ts';
import { type StatusView, waitingFor } from '../core/status-view.ts';

/** What `sdreforge_batch_status` answers; `current` is the SD WebUI call sampling now for the job. */
export type Status = StatusView;

const FULL_BAR = 24;
const MIN_BAR = 8;

/** `[########------------]`: `cells` cells for done/total. */
export function bar(done: number, total: number, cells = FULL_BAR): string {
  const fraction = total > 0 ? Math.min(1, done / total) : 0;
  const filled = Math.round(fraction * cells);
  return `[${'#'.repeat(filled)}${'-'.repeat(cells - filled)}]`;
}

/** One part of a line, long and short ("1m 05s elapsed", "1m 05s"); without a short form it is never shortened. */
interface Part {
  long: string;
  short?: string;
  /** Parts are dropped from the lowest rank up when even the short forms do not fit. */
  rank: number;
}

/**
 * The bar's cells at `width` columns: a fifth of the width, from MIN_BAR to FULL_BAR. It hangs on
 * the width alone, so a live line's bar keeps its size from frame to frame while its text changes.
 */
export function barCells(width: number): number {
  return Math.min(FULL_BAR, Math.max(MIN_BAR, Math.floor(width / 5)));
}

/**
 * The longest form of a bar and its parts that fits `width` characters: the long labels, then
 * the short ones, then without the least useful parts, then without the bar; at the very last,
 * cut. The bar is as wide as barCells(width) says whatever the text. Every character is one
 * column wide (ASCII and "·").
 */
export function fitLine(barOf: (cells: number) => string, parts: Part[], width: number): string {
  const join = (kept: Part[], form: 'long' | 'short') =>
    kept.map((p) => (form === 'short' ? (p.short ?? p.long) : p.long)).join(' · ');
  const cells = barCells(width);
  // A bar of n cells takes n + 2 characters, and a space parts it from the rest.
  const withBar = (rest: string) =>
    cells + 3 + rest.length <= width ? `${barOf(cells)} ${rest}` : undefined;
  const long = withBar(join(parts, 'long'));
  if (long !== undefined) return long;
  const ranks = [...new Set(parts.map((p) => p.rank))].sort((a, b) => a - b);
  // The top rank is never dropped: without it the line says nothing.
  for (let dropped = 0; dropped < ranks.length; dropped++) {
    const line = withBar(
      join(
        parts.filter((p) => !ranks.slice(0, dropped).includes(p.rank)),
        'short',
      ),
    );
    if (line !== undefined) return line;
  }
  const bare = join(
    parts.filter((p) => p.rank === ranks.at(-1)),
    'short',
  );
  return bare.slice(0, Math.max(0, width));
}

/**
 * `[####----] 5/12 running · step 5/20 of iteration 3 · 1m 05s elapsed · ETA 2m 10s`, fitted to
 * `width`; in place of the ETA, what the job waits for when status says so.
 */
export function statusLine(s: Status, etaSeconds: number | null, width = Number.POSITIVE_INFINITY): string {
  const failed = s.failed_images > 0 ? `, ${s.failed_images} failed` : '';
  const parts: Part[] = [{ long: `${s.completed_images}/${s.total_images} ${s.status}${failed}`, rank: 9 }];
  if (s.current) {
    const { step, steps, iteration } = s.current;
    parts.push({
      long: `step ${step}/${steps} of iteration ${iteration}`,
      short: `step ${step}/${steps}`,
      rank: 2,
    });
  }
  parts.push({
    long: `${formatDuration(s.elapsed_seconds)} elapsed`,
    short: formatDuration(s.elapsed_seconds),
    rank: 1,
  });
  const waiting = waitingFor(s);
  if (waiting) parts.push({ long: waiting, short: waiting.split(':')[0], rank: 8 });
  else if (etaSeconds !== null) parts.push({ long: `ETA ${formatDuration(etaSeconds)}`, rank: 9 });
  return fitLine((cells) => bar(s.completed_images, s.total_images, cells), parts, width);
}

/**
 * Seconds left: the server's estimate (core/status-view.ts), which counts the running call's
 * sampled part, and the time since the last count, as work done; none while the job waits for a
 * host (the line says what it waits for instead).
 */
export function remainingSeconds(s: Status): number | null {
  if (s.poll_after_seconds === null || waitingFor(s)) return null;
  return s.estimated_remaining_seconds;
}

/**
 * The ETA a live line shows: between two changes of the finished count it falls or holds. Until
 * an image is counted nothing new says the job is slower than thought, and a call whose steps
 * the status does not show (one queued, or between calls) would otherwise make it climb.
 */
export function steadyEta(): (s: Status, eta: number | null) => number | null {
  let finished: number | undefined;
  let shown: number | null = null;
  return (s, eta) => {
    const now = s.completed_images + s.failed_images;
    shown = now === finished && eta !== null && shown !== null ? Math.min(eta, shown) : eta;
    finished = now;
    return shown;
  };
}
