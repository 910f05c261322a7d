import type { GenerationParams } from './job.ts';

/** Calibration: seconds one sampling step of one 512x512 image takes on the GPU host. */
export interface Calibration {
  secondsPerStep: number;
}

const BASE_PIXELS = 512 * 512;

/** Seconds one image should take: steps scale linearly, pixels roughly linearly on a GPU. */
export function secondsPerImage(params: GenerationParams, calibration: Calibration): number {
  return params.steps * calibration.secondsPerStep * ((params.width * params.height) / BASE_PIXELS);
}

/** A-priori estimate of a whole job on `parallelHosts` hosts. */
export function estimateJobSeconds(
  params: GenerationParams,
  calibration: Calibration,
  parallelHosts = 1,
): number {
  const images = params.batch_size * params.n_iter;
  return (images * secondsPerImage(params, calibration)) / Math.max(1, parallelHosts);
}

/**
 * Seconds left: measured throughput once images have finished, else the a-priori estimate
 * less the time already spent.
 */
export function remainingSeconds(args: {
  elapsedSeconds: number;
  doneImages: number;
  totalImages: number;
  estimatedSeconds: number;
}): number {
  const { elapsedSeconds, doneImages, totalImages, estimatedSeconds } = args;
  if (doneImages >= totalImages) return 0;
  if (doneImages > 0) return (elapsedSeconds / doneImages) * (totalImages - doneImages);
  return Math.max(0, estimatedSeconds - elapsedSeconds);
}

/**
 * How long one SD WebUI call may take before it counts as hung: the batch's expected time,
 * doubled for the request queued ahead of it (depth 2) and for slow steps, plus a minute for
 * model loads; never beyond `capSeconds` (below the task's own time-out).
 */
export function callDeadlineSeconds(
  params: GenerationParams,
  calibration: Calibration,
  capSeconds: number,
): number {
  const hiresFactor = params.enable_hr ? 1 + (params.hr_scale ?? 2) ** 2 : 1;
  const batch = params.batch_size * secondsPerImage(params, calibration) * hiresFactor;
  return Math.min(capSeconds, Math.ceil(4 * batch + 60));
}
