import type { CurrentProgress } from './job.ts';

/**
 * Steps sampled since the call's sampling began, at `nowMs`, fractions included and not capped:
 * from when it began and its measured rate when its polls wrote them, else the step they last saw.
 */
function stepsWorked(current: CurrentProgress, nowMs: number): number {
  const { step, sampling_since: since, steps_per_second: rate } = current;
  return since && rate ? Math.max(step, ((nowMs - Date.parse(since)) / 1000) * rate) : step;
}

/**
 * The step status shows at `nowMs`: never behind the step the polls saw nor past the call's
 * steps (SD WebUI holds the last step while it decodes and encodes).
 */
export const liveStep = (current: CurrentProgress, nowMs: number): number =>
  Math.min(current.steps, Math.floor(stepsWorked(current, nowMs)));

/** The runner's next call is sent behind the running one: its sampling follows at once. */
const CALLS_AHEAD = 2;

/**
 * Images sampled and not yet counted at `nowMs`, by the call in `current` (`counted` once its
 * images are) at its measured rate. Past its steps the rate carries on into the runner's next
 * call, which samples as soon as this one stops and writes its own progress a poll or two later:
 * without it the ETA would climb in that gap.
 */
export function samplingImages(
  current: CurrentProgress,
  counted: boolean,
  imagesPerCall: number,
  nowMs: number,
): number {
  if (current.steps <= 0) return 0;
  const calls = Math.min(CALLS_AHEAD, stepsWorked(current, nowMs) / current.steps);
  return Math.max(0, calls - (counted ? 1 : 0)) * imagesPerCall;
}
