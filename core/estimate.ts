import type { GenerationParams } from './job.ts';

/** Calibration: what an unmeasured GPU host is assumed to take. */
export interface Calibration {
  /** Seconds one sampling step of one 512x512 image takes. */
  secondsPerStep: number;
  /**
   * Seconds a call costs besides sampling (VAE decode, PNG encoding, the transfer), and the
   * pixels below which a smaller image samples no faster on a GPU: without them a tiny first job
   * on a host not yet measured was estimated at nothing. 0 for the simulator, which has neither.
   */
  callOverheadSeconds?: number;
  minPixels?: number;
}

/** A real GPU host before it is measured. */
export const DEFAULT_CALIBRATION: Required<Calibration> = {
  secondsPerStep: 0.05,
  callOverheadSeconds: 1,
  minPixels: 256 * 256,
};

/**
 * What one GPU host of the pool was measured to take: seconds per step-megapixel (see imageWork)
 * by work class (see rateKey), smoothed over its recent iterations. Empty until it has run one.
 */
export interface HostRate {
  hostId: string;
  healthy: boolean;
  /** Epoch ms of its latest measurement; 0 when it has none. */
  measuredAt: number;
  rates: Readonly<Record<string, number>>;
}

/** One iteration's measurement, folded into its host's rates when the slot is released. */
export interface RateSample {
  key: string;
  secondsPerUnit: number;
  /** The call's GPU time itself, for the host's busy-time metric. */
  busySeconds?: number;
}

const BASE_PIXELS = 512 * 512;
const MEGAPIXEL = 1_000_000;
/** SD WebUI's default hires denoising: the hires pass runs about steps x denoising steps. */
const DEFAULT_HR_DENOISING = 0.75;

/** The size the hires pass samples at, as SD WebUI computes it (one 0 keeps the aspect ratio). */
function hiresPixels(params: GenerationParams): number {
  const { width, height } = params;
  const x = params.hr_resize_x ?? 0;
  const y = params.hr_resize_y ?? 0;
  if (x === 0 && y === 0) return width * height * (params.hr_scale ?? 2) ** 2;
  if (y === 0) return x * ((x * height) / width);
  if (x === 0) return ((y * width) / height) * y;
  return x * y;
}

/** Pixels of each image a call returns: the hires pass's size when hires fix is on. */
export const outputPixels = (params: GenerationParams): number =>
  params.enable_hr ? hiresPixels(params) : params.width * params.height;

/**
 * Sampling work of one image in step-megapixels: each step is one U-Net pass whose cost grows
 * with the pixels. The hires pass counts the steps it really runs (second-pass steps x
 * denoising) at the upscaled size.
 */
export function imageWork(params: GenerationParams): number {
  let work = params.steps * ((params.width * params.height) / MEGAPIXEL);
  if (params.enable_hr) {
    const steps =
      (params.hr_second_pass_steps || params.steps) * (params.denoising_strength ?? DEFAULT_HR_DENOISING);
    work += steps * (hiresPixels(params) / MEGAPIXEL);
  }
  return work;
}

/**
 * The work class a host's rate is kept under: pixels in steps of sqrt(2) (p0 = 512x512,
 * p2 = 768x768, p4 = 1024x1024), plus "h" with hires fix.
 *
 * Why steps are normalized away but sizes get classes: every step of one size costs the same
 * U-Net pass, so seconds per step measured at 20 steps hold at 50. Seconds per megapixel do not
 * hold across sizes: small images leave the GPU underused and pay the fixed per-call costs (VAE
 * decode, PNG encoding, transfer) out of fewer pixels, big ones pay attention's superlinear
 * cost. So a rate is reused as measured for its own class, and a size not measured yet borrows
 * the nearest class's rate scaled by pixels (right to first order) rather than the configured
 * calibration, which may be a default that was never set for this GPU.
 */
export function rateKey(params: GenerationParams): string {
  const sizeClass = Math.round(2 * Math.log2((params.width * params.height) / BASE_PIXELS));
  return `p${sizeClass}${params.enable_hr ? 'h' : ''}`;
}

const parseKey = (key: string) => {
  const m = /^p(-?\d+)(h?)$/.exec(key);
  return m ? { size: Number(m[1]), hires: m[2] === 'h' } : undefined;
};

/** A class at most this far away (4 = 4x the pixels) lends its rate; farther, the calibration. */
const MAX_BORROW_DISTANCE = 4;

/** The measured seconds per step-megapixel that applies to `key`: its own, else the nearest class's. */
function measuredRate(key: string, rates: Readonly<Record<string, number>>): number | undefined {
  const own = rates[key];
  if (own !== undefined && own > 0) return own;
  const want = parseKey(key);
  if (!want) return undefined;
  let best: { distance: number; key: string; rate: number } | undefined;
  for (const [k, rate] of Object.entries(rates)) {
    const got = parseKey(k);
    if (!got || !(rate > 0)) continue;
    const distance = Math.abs(got.size - want.size) + (got.hires === want.hires ? 0 : 2);
    if (distance > MAX_BORROW_DISTANCE) continue;
    if (!best || distance < best.distance || (distance === best.distance && k < best.key)) {
      best = { distance, key: k, rate };
    }
  }
  return best?.rate;
}

/**
 * Seconds per step-megapixel of work of class `key`: the measured rate of that class (or the
 * nearest measured one) when there is one, else the configured calibration.
 */
export function secondsPerUnit(
  key: string,
  calibration: Calibration,
  rates?: Readonly<Record<string, number>>,
): number {
  const measured = rates ? measuredRate(key, rates) : undefined;
  return measured ?? calibration.secondsPerStep / (BASE_PIXELS / MEGAPIXEL);
}

/**
 * Seconds one image should take: its work times the host's measured rate for this class when
 * there is one, else the configured calibration (steps linear, pixels roughly linear).
 */
export function secondsPerImage(
  params: GenerationParams,
  calibration: Calibration,
  rates?: Readonly<Record<string, number>>,
): number {
  return imageWork(params) * secondsPerUnit(rateKey(params), calibration, rates);
}

/** One iteration's measurement: `busySeconds` of GPU time for a batch of these parameters. */
export function rateSample(params: GenerationParams, busySeconds: number): RateSample | undefined {
  const secondsPerUnit = busySeconds / (params.batch_size * imageWork(params));
  return Number.isFinite(secondsPerUnit) && secondsPerUnit > 0
    ? { key: rateKey(params), secondsPerUnit, busySeconds }
    : undefined;
}

/** Weight of the newest iteration in a host's rate: a changed host shows within a few iterations. */
export const RATE_SMOOTHING = 0.3;

/**
 * The host's rate after one more measurement: an exponentially weighted moving average. A sample
 * beyond 4x either way (a model load, a stalled poll) moves it no further than a 4x sample would.
 */
export function nextRate(previous: number | undefined, sample: number): number {
  if (previous === undefined || !(previous > 0)) return sample;
  const bounded = Math.min(previous * 4, Math.max(previous / 4, sample));
  return previous + RATE_SMOOTHING * (bounded - previous);
}

/**
 * Seconds one iteration of this job takes on each GPU host that will work on it. The pool has
 * `hostCount` hosts; the most recently measured records stand for them (a host dropped from the
 * configuration keeps its records but is no longer measured), hosts without a record use the
 * calibration. Resting hosts take no work, unless every host rests (they return within a minute).
 */
export function iterationSecondsByHost(
  params: GenerationParams,
  calibration: Calibration,
  hostCount: number,
  measured: readonly HostRate[] = [],
): number[] {
  const count = Math.max(1, hostCount);
  const recent = [...measured].sort((a, b) => b.measuredAt - a.measuredAt).slice(0, count);
  const unmeasured = count - recent.length;
  const healthy = recent.filter((h) => h.healthy);
  const working = healthy.length + unmeasured > 0 ? healthy : recent;
  const perIteration = (rates?: HostRate['rates']) => callSeconds(params, calibration, rates);
  return [
    ...working.map((h) => perIteration(h.rates)),
    ...Array.from({ length: unmeasured }, () => perIteration()),
  ];
}

/**
 * Seconds one call of these parameters (its batch_size images) takes on a host with these measured
 * rates: the measurement when the host has one for this work class or a near one, else the
 * calibration with its overhead and pixel floor.
 */
export function callSeconds(
  params: GenerationParams,
  calibration: Calibration,
  rates?: Readonly<Record<string, number>>,
): number {
  return rates && measuredRate(rateKey(params), rates) !== undefined
    ? params.batch_size * secondsPerImage(params, calibration, rates)
    : calibratedIterationSeconds(params, calibration);
}

/** One iteration on a host not yet measured: the calibration, with its overhead and pixel floor. */
export function calibratedIterationSeconds(params: GenerationParams, calibration: Calibration): number {
  const floor = (params.steps * (calibration.minPixels ?? 0)) / MEGAPIXEL;
  const work = Math.max(imageWork(params), floor);
  const perUnit = calibration.secondsPerStep / (BASE_PIXELS / MEGAPIXEL);
  return params.batch_size * work * perUnit + (calibration.callOverheadSeconds ?? 0);
}

/**
 * When the last of `iterations` iterations ends if each goes to the host that would finish it
 * first. This is the pool's throughput (the sum of 1 / seconds per iteration over its hosts)
 * bounded by the job's iteration count: one iteration never runs faster on two hosts.
 */
export function makespanSeconds(iterationSeconds: readonly number[], iterations: number): number {
  if (iterations <= 0 || iterationSeconds.length === 0) return 0;
  const busyUntil = iterationSeconds.map(() => 0);
  let end = 0;
  for (let i = 0; i < iterations; i++) {
    let best = 0;
    for (let h = 1; h < busyUntil.length; h++) {
      const finish = (busyUntil[h] as number) + (iterationSeconds[h] as number);
      if (finish < (busyUntil[best] as number) + (iterationSeconds[best] as number)) best = h;
    }
    busyUntil[best] = (busyUntil[best] as number) + (iterationSeconds[best] as number);
    end = Math.max(end, busyUntil[best] as number);
  }
  return end;
}

/**
 * A-priori estimate of a whole job on a pool of `parallelHosts` hosts, from each host's measured
 * rate when it has one and the calibration otherwise.
 */
export function estimateJobSeconds(
  params: GenerationParams,
  calibration: Calibration,
  parallelHosts = 1,
  measured: readonly HostRate[] = [],
): number {
  return makespanSeconds(iterationSecondsByHost(params, calibration, parallelHosts, measured), params.n_iter);
}

/** What sampled images leave of a job not yet done, at the least (see remainingSeconds). */
const UNFINISHED_IMAGES = 0.5;

/**
 * Seconds left. Before the first image: the a-priori estimate less the time already spent. Once
 * images are done, the job's own throughput, which already counts queueing and every overhead;
 * while they are fewer than one round of the pool (`roundImages`: what all its hosts make at
 * once), that throughput rests on too little and is blended with the estimate in proportion.
 * `samplingImages`, the part of the images being sampled now (see core/live-step.ts), counts as
 * done: with finished images alone, every second an image samples made the job look slower, and
 * the ETA climbed until the image was counted.
 */
export function remainingSeconds(args: {
  elapsedSeconds: number;
  doneImages: number;
  samplingImages?: number;
  totalImages: number;
  estimatedSeconds: number;
  roundImages?: number;
  /** Seconds into the job when the done count last changed, if known. */
  countedElapsedSeconds?: number;
}): number {
  const { elapsedSeconds, doneImages, totalImages, estimatedSeconds, roundImages = 0 } = args;
  if (doneImages >= totalImages) return 0;
  // Images still sampling or decoding are never all done: the job is not shown as over.
  const sampling = args.samplingImages ?? 0;
  const progressed = Math.min(totalImages - UNFINISHED_IMAGES, doneImages + sampling);
  const apriori = Math.max(0, estimatedSeconds - elapsedSeconds);
  if (progressed <= 0) return apriori;
  // Without the running call's pace, the rate is the one the last count showed, and the time
  // since then counts as work done: the ETA falls between counts instead of climbing while the
  // count holds. It stops at half an image's time, never claiming the job is over.
  const since = args.countedElapsedSeconds;
  const measured =
    sampling === 0 && since !== undefined && since > 0 && since <= elapsedSeconds
      ? Math.max(
          (since / progressed) * UNFINISHED_IMAGES,
          (since / progressed) * (totalImages - progressed) - (elapsedSeconds - since),
        )
      : (elapsedSeconds / progressed) * (totalImages - progressed);
  const weight = roundImages > 0 ? Math.min(1, progressed / roundImages) : 1;
  return weight * measured + (1 - weight) * apriori;
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
  const firstPass = { ...params, enable_hr: false };
  const batch = params.batch_size * secondsPerImage(firstPass, calibration) * hiresFactor;
  return Math.min(capSeconds, Math.ceil(4 * batch + 60));
}
