import { describe, expect, it } from 'vitest';
import {
  DEFAULT_CALIBRATION,
  estimateJobSeconds,
  type HostRate,
  imageWork,
  iterationSecondsByHost,
  makespanSeconds,
  nextRate,
  RATE_SMOOTHING,
  rateKey,
  rateSample,
  remainingSeconds,
  secondsPerImage,
} from '../../../core/estimate.ts';
import type { JobRecord } from '../../../core/job.ts';
import { etaLeansOnEstimate, etaPrior, toStatusView } from '../../../core/status-view.ts';
import { generationParams } from '../../support/job-fixtures.ts';

const params = generationParams;
const calibration = { secondsPerStep: 0.05 };
const MP512 = (512 * 512) / 1e6;
const host = (hostId: string, rates: Record<string, number>, over: Partial<HostRate> = {}): HostRate => ({
  hostId,
  healthy: true,
  measuredAt: 1,
  rates,
  ...over,
});

describe('work and classes', () => {
  it('counts step-megapixels, the hires pass at its size for the steps it runs', () => {
    expect(imageWork(params())).toBeCloseTo(20 * MP512);
    // 2x hires: 4x the pixels, 10 second-pass steps x 0.5 denoising = 5 steps.
    const hires = params({ enable_hr: true, hr_scale: 2, hr_second_pass_steps: 10, denoising_strength: 0.5 });
    expect(imageWork(hires)).toBeCloseTo(20 * MP512 + 5 * 4 * MP512);
    // hr_resize_x alone keeps the aspect ratio: 1024 wide from 512x768 is 1024x1536.
    const resized = params({ height: 768, enable_hr: true, hr_resize_x: 1024, denoising_strength: 1 });
    expect(imageWork(resized)).toBeCloseTo((20 * 512 * 768 + 20 * 1024 * 1536) / 1e6);
  });

  it('keys rates by size class in steps of sqrt(2) pixels and hires, never by steps', () => {
    expect(rateKey(params())).toBe('p0');
    expect(rateKey(params({ steps: 50, batch_size: 4 }))).toBe('p0');
    expect(rateKey(params({ width: 512, height: 576 }))).toBe('p0');
    expect(rateKey(params({ width: 768, height: 768 }))).toBe('p2');
    expect(rateKey(params({ width: 1024, height: 1024 }))).toBe('p4');
    expect(rateKey(params({ width: 256, height: 256 }))).toBe('p-4');
    expect(rateKey(params({ enable_hr: true }))).toBe('p0h');
  });
});

describe('seconds per image', () => {
  it('uses the calibration without measurements, as before', () => {
    expect(secondsPerImage(params(), calibration)).toBeCloseTo(20 * 0.05);
    expect(secondsPerImage(params({ width: 1024, height: 1024 }), calibration)).toBeCloseTo(4 * 20 * 0.05);
  });

  it("uses the host's rate for the class, scaled by steps", () => {
    // 0.1 s per step at 512x512 measured: 0.1 / MP512 s per step-megapixel.
    const rates = { p0: 0.1 / MP512 };
    expect(secondsPerImage(params({ steps: 30 }), calibration, rates)).toBeCloseTo(3);
  });

  it('borrows the nearest measured class for a size not measured yet, within 4x the pixels', () => {
    const rates = { p0: 0.1 / MP512, p4: 0.2 / MP512 };
    // 768x768 (p2) is as near p0 as p4: ties go to the first key, scaled by its pixels.
    expect(secondsPerImage(params({ width: 768, height: 768 }), calibration, rates)).toBeCloseTo(
      20 * 0.1 * 2.25,
    );
    // 1024x1024 has its own.
    expect(secondsPerImage(params({ width: 1024, height: 1024 }), calibration, rates)).toBeCloseTo(
      20 * 0.2 * 4,
    );
    // 2048x2048 (p8) is 16x the pixels of the only class measured: the calibration.
    expect(secondsPerImage(params({ width: 2048, height: 2048 }), calibration, { p0: 1 })).toBeCloseTo(
      16 * 20 * 0.05,
    );
    // A hires rate stands in for a plain one only when nothing nearer was measured.
    expect(secondsPerImage(params(), calibration, { p0h: 0.1 / MP512, p1: 0.2 / MP512 })).toBeCloseTo(
      20 * 0.2,
    );
  });
});

describe('measuring', () => {
  it('normalizes a call to seconds per step-megapixel of one image', () => {
    const p = params({ steps: 25, batch_size: 2 });
    const sample = rateSample(p, 2 * 25 * 0.04);
    expect(sample?.key).toBe('p0');
    expect(sample && secondsPerImage(p, calibration, { p0: sample.secondsPerUnit })).toBeCloseTo(25 * 0.04);
    expect(rateSample(p, 0)).toBeUndefined();
    expect(rateSample(p, Number.NaN)).toBeUndefined();
  });

  it('smooths with an EWMA and bounds one outlier', () => {
    expect(nextRate(undefined, 2)).toBe(2);
    expect(nextRate(1, 2)).toBeCloseTo(1 + RATE_SMOOTHING);
    // A 100x sample (a model load) moves it as far as a 4x one would.
    expect(nextRate(1, 100)).toBeCloseTo(1 + RATE_SMOOTHING * 3);
    expect(nextRate(1, 0.001)).toBeCloseTo(1 - RATE_SMOOTHING * 0.75);
    let rate: number | undefined;
    for (let i = 0; i < 20; i++) rate = nextRate(rate, 0.5);
    expect(rate).toBeCloseTo(0.5);
  });
});

describe('pool estimate', () => {
  it('sums the hosts: unmeasured ones by calibration, resting ones not at all', () => {
    const p = params();
    const fast = host('fast', { p0: 0.025 / MP512 });
    expect(iterationSecondsByHost(p, calibration, 2, [fast])).toEqual([
      expect.closeTo(0.5),
      expect.closeTo(1),
    ]);
    expect(iterationSecondsByHost(p, calibration, 2, [fast, host('slow', {}, { healthy: false })])).toEqual([
      expect.closeTo(0.5),
    ]);
    // Every host resting: they come back, so the estimate still counts them.
    expect(iterationSecondsByHost(p, calibration, 1, [{ ...fast, healthy: false }])).toEqual([
      expect.closeTo(0.5),
    ]);
  });

  it('takes the most recently measured records when there are more than hosts', () => {
    const gone = host('gone', { p0: 1 }, { measuredAt: 1 });
    const here = host('here', { p0: 0.025 / MP512 }, { measuredAt: 2 });
    expect(iterationSecondsByHost(params(), calibration, 1, [gone, here])).toEqual([expect.closeTo(0.5)]);
  });

  it('is bounded by the iteration count: whole iterations go to the host that ends them first', () => {
    expect(makespanSeconds([1, 1], 4)).toBe(2);
    expect(makespanSeconds([1, 1], 3)).toBe(2);
    expect(makespanSeconds([1, 1, 1, 1], 1)).toBe(1);
    // A host twice as fast takes two iterations for every one of the other.
    expect(makespanSeconds([1, 2], 3)).toBe(2);
    expect(makespanSeconds([1], 0)).toBe(0);
  });

  it("estimates a job of other steps and batch size from the hosts' measured rates", () => {
    // Two hosts measured at 0.04 s per 512x512 step (the calibration says 0.05).
    const measured = [host('a', { p0: 0.04 / MP512 }), host('b', { p0: 0.04 / MP512 })];
    const job = params({ steps: 25, batch_size: 2, n_iter: 4 });
    expect(estimateJobSeconds(job, calibration, 2, measured)).toBeCloseTo((25 * 0.04 * 8) / 2);
    expect(estimateJobSeconds(job, calibration, 2)).toBeCloseTo((25 * 0.05 * 8) / 2);
  });
});

describe('ETA', () => {
  it('uses the estimate before the first image and the job throughput from the first round on', () => {
    const base = { elapsedSeconds: 10, totalImages: 12, estimatedSeconds: 60, roundImages: 4 };
    expect(remainingSeconds({ ...base, doneImages: 0 })).toBe(50);
    expect(remainingSeconds({ ...base, doneImages: 4 })).toBe(20);
    // Half a round: half the job's own throughput (10 / 2 x 10 = 50), half the estimate (50).
    expect(remainingSeconds({ ...base, doneImages: 2, elapsedSeconds: 10 })).toBe(50);
    expect(remainingSeconds({ ...base, doneImages: 2, estimatedSeconds: 30 })).toBe(35);
  });

  const job: JobRecord = {
    job_id: 'job_20261124_abcdefghij',
    owner: 'alice',
    status: 'running',
    created_at: '2026-11-24T10:00:00.000Z',
    started_at: '2026-11-24T10:00:00.000Z',
    params: params({ steps: 25, batch_size: 2, n_iter: 4 }),
    total_images: 8,
    completed_images: 0,
    failed_images: 0,
    estimated_seconds: 5,
    expires_at: 0,
  };

  it("status uses the hosts' rates before the first image", () => {
    // Measured half a second after the job was created, by another job's iteration.
    const since = { measuredAt: Date.parse(job.created_at) + 500 };
    const measured = [host('a', { p0: 0.04 / MP512 }, since), host('b', { p0: 0.04 / MP512 }, since)];
    expect(etaLeansOnEstimate(job, 2)).toBe(true);
    const prior = etaPrior(job, calibration, 2, measured);
    expect(prior).toEqual({ jobSeconds: expect.closeTo(4), roundImages: 4 });
    const view = toStatusView(job, new Date('2026-11-24T10:00:01.000Z'), prior);
    expect(view.estimated_remaining_seconds).toBe(3);
    // Without rates: the estimate stored at start.
    expect(etaPrior(job, calibration, 2).jobSeconds).toBe(5);
  });

  it('keeps the estimate made at start when a reading holds nothing measured since', () => {
    // The start read the pool afresh; a shared reading from before it can only be as good.
    const before = { measuredAt: Date.parse(job.created_at) - 500 };
    const older = [host('a', { p0: 0.04 / MP512 }, before), host('b', { p0: 0.04 / MP512 }, before)];
    expect(etaPrior(job, calibration, 2, older).jobSeconds).toBe(5);
    expect(etaPrior(job, calibration, 2, [host('a', {}, { measuredAt: 0 })]).jobSeconds).toBe(5);
  });

  it('status stops reading host rates once a round of images is done or the job ended', () => {
    expect(etaLeansOnEstimate({ ...job, completed_images: 2 }, 2)).toBe(true);
    expect(etaLeansOnEstimate({ ...job, completed_images: 4 }, 2)).toBe(false);
    expect(etaLeansOnEstimate({ ...job, status: 'cancelled' }, 2)).toBe(false);
    const view = toStatusView(
      { ...job, completed_images: 4 },
      new Date('2026-11-24T10:00:02.000Z'),
      etaPrior(job, calibration, 2),
    );
    expect(view.estimated_remaining_seconds).toBe(2);
  });
});

describe('the estimate on a host not yet measured', () => {
  it('is never nothing: a call costs its overhead, and a tiny image samples no faster than the floor', () => {
    const tiny = params({ width: 64, height: 64, steps: 2, batch_size: 1, n_iter: 4 });
    const [perIteration] = iterationSecondsByHost(tiny, DEFAULT_CALIBRATION, 1);
    const floorWork = (2 * 256 * 256) / 1e6;
    expect(perIteration).toBeCloseTo(1 + floorWork * (0.05 / MP512));
    expect(estimateJobSeconds(tiny, DEFAULT_CALIBRATION, 1)).toBeCloseTo(4 * (perIteration as number));
    // A 512x512 image is above the floor: its sampling is counted as it is.
    const [full] = iterationSecondsByHost(params({ batch_size: 1 }), DEFAULT_CALIBRATION, 1);
    expect(full).toBeCloseTo(1 + 20 * 0.05);
  });

  it('uses the measured rate alone once the host has one for the class', () => {
    const tiny = params({ width: 64, height: 64, steps: 2, batch_size: 1 });
    const measured = [host('a', { [rateKey(tiny)]: 2 })];
    const [perIteration] = iterationSecondsByHost(tiny, DEFAULT_CALIBRATION, 1, measured);
    expect(perIteration).toBeCloseTo(imageWork(tiny) * 2);
  });
});
