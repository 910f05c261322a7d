import type { PoolAsk } from '../../core/ports.ts';

/** A test pool's calibration: one second per unit of work, so `work` reads as seconds left. */
export const SECOND_PER_UNIT = { secondsPerStep: 0.262144 };

/**
 * An ask for a slot as a runner would make it. By default every job has the same place in line
 * (created at 0, 100 units of work left), so ties fall to who waited first; a test gives a job
 * less work left, or an earlier creation, to put it ahead.
 */
export function poolAsk(
  jobId: string,
  holder: string,
  options: { createdAt?: number; work?: number; want?: number; runner?: number } = {},
): PoolAsk {
  const { createdAt = 0, work = 100, want = 2, runner = 0 } = options;
  return {
    claim: { jobId, createdAt, work, rateKey: 'p0', want },
    holder,
    runner,
  };
}
