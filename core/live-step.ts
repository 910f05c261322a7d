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

/**
 * The runner's next call is sent behind the running one and samples as soon as it stops; its own
 * polls write its pace a poll or two later. Until then the pace carries on into it, for at most
 * this part of a call: a next call that does not show (a host failing, a wait for a slot) stops
 * the count instead of finishing the job on paper.
 */
const CARRIED_CALL = 0.5;

/**
 * Images sampled and not yet counted at `nowMs`, by the call in `current` (`counted` once its
 * images are) at its measured rate, and past its steps by the next call (see CARRIED_CALL):
 * without that the ETA would climb between a call's count and the next call's first write.
 */
export function samplingImages(
  current: CurrentProgress,
  counted: boolean,
  imagesPerCall: number,
  nowMs: number,
): number {
  if (current.steps <= 0) return 0;
  const calls = stepsWorked(current, nowMs) / current.steps;
  const own = counted ? 0 : Math.min(1, calls);
  const carried = Math.min(CARRIED_CALL, Math.max(0, calls - 1));
  return (own + carried) * imagesPerCall;
}
