import type { PoolAsk } from '../../core/ports.ts';

/**
 * An ask for a slot as a runner would make it. By default every job has the same place in line
 * (created at 0, 100 s of work left), so ties fall to who waited first; a test gives a job less
 * work left, or an earlier creation, to put it ahead.
 */
export function poolAsk(
  jobId: string,
  holder: string,
  options: {
    createdAt?: number;
    secondsLeft?: number;
    want?: number;
    runner?: number;
    avoidHost?: string;
  } = {},
): PoolAsk {
  const { createdAt = 0, secondsLeft = 100, want = 2, runner = 0, avoidHost } = options;
  return {
    demand: { jobId, createdAt, want, secondsLeft: () => secondsLeft },
    holder,
    runner,
    ...(avoidHost ? { avoidHost } : {}),
  };
}
