import { describe, expect, it } from 'vitest';
import { callSeconds, DEFAULT_CALIBRATION } from '../../../core/estimate.ts';
import { iterationSeeds } from '../../../core/plan.ts';
import { callShape, REQUEST_LIMIT_SHARE, splitCalls, splittable } from '../../../core/request-limit.ts';
import { buildTxt2ImgPayload } from '../../../core/txt2img-payload.ts';
import { generationParams } from '../../support/job-fixtures.ts';

/** A host taking `perImage` seconds per image and `overhead` per call. */
const seconds =
  (perImage: number, overhead = 0) =>
  (batch: number) =>
    batch * perImage + overhead;
const shape = (limitSeconds: number | undefined, batchSize: number, perImage: number, splittable = true) =>
  callShape({ limitSeconds, depth: 2, batchSize, splittable, secondsFor: seconds(perImage, 1) });

describe('callShape', () => {
  it('changes nothing without a limit, or while two calls fit in it', () => {
    expect(shape(undefined, 8, 100)).toEqual({ depth: 2, batchPerCall: 8 });
    // 2 x (4 x 9 + 1) = 74 s of 100 s x 0.8.
    expect(shape(100, 4, 9)).toEqual({ depth: 2, batchPerCall: 4 });
  });

  it('gives up depth before splitting: one call alone at a time while it fits', () => {
    // 4 x 15 + 1 = 61 s: two would be 122 s, one fits in 80.
    expect(shape(100, 4, 15)).toEqual({ depth: 1, batchPerCall: 4 });
  });

  it('splits a batch one call cannot hold into as few calls as fit, evenly', () => {
    // SDXL, batch 8, hires fix at 12 s an image: 97 s in one call; at most 6 fit in 80 s.
    expect(shape(100, 8, 12)).toEqual({ depth: 1, batchPerCall: 4 });
    // 30 s an image: 2 fit (61 s), so 8 go in 4 calls of 2.
    expect(shape(100, 8, 30)).toEqual({ depth: 1, batchPerCall: 2 });
    // Not even one fits: one image per call, the least there is.
    expect(shape(100, 8, 120)).toEqual({ depth: 1, batchPerCall: 1 });
    expect(shape(100, 7, 30)).toEqual({ depth: 1, batchPerCall: 2 });
  });

  it('keeps every planned call within the share of the limit it allows', () => {
    for (const perImage of [1, 5, 9.9, 12, 19, 39]) {
      for (const batch of [1, 2, 3, 5, 8]) {
        const s = shape(100, batch, perImage);
        if (perImage + 1 > 100 * REQUEST_LIMIT_SHARE) continue;
        expect(s.depth * seconds(perImage, 1)(s.batchPerCall)).toBeLessThanOrEqual(100 * REQUEST_LIMIT_SHARE);
      }
    }
  });

  it('never splits a batch that may not be split', () => {
    expect(shape(100, 8, 12, false)).toEqual({ depth: 1, batchPerCall: 8 });
  });
});

describe('splitCalls', () => {
  it('covers the batch in order with parts of at most the size asked', () => {
    expect(splitCalls(8, 3)).toEqual([
      { first: 0, count: 3 },
      { first: 3, count: 3 },
      { first: 6, count: 2 },
    ]);
    expect(splitCalls(4, 4)).toEqual([{ first: 0, count: 4 }]);
    expect(splitCalls(2, 0)).toEqual([
      { first: 0, count: 1 },
      { first: 1, count: 1 },
    ]);
  });

  it("gives every image of a split iteration the seed it has in the one call's batch", () => {
    const params = generationParams({ seed: 1000, batch_size: 8 });
    const seeds = splitCalls(8, 3).flatMap((part) => {
      const payload = buildTxt2ImgPayload(params, 5, {}, part);
      expect(payload).toMatchObject({ batch_size: part.count, n_iter: 1 });
      return Array.from({ length: part.count }, (_, k) => (payload.seed as number) + k);
    });
    expect(seeds).toEqual(iterationSeeds(params, 5));
  });

  it('keeps the seed and advances the subseed from the part’s first image with a variation strength', () => {
    const params = generationParams({ seed: 50, subseed: 900, subseed_strength: 0.3, batch_size: 4 });
    const payloads = splitCalls(4, 2).map((part) => buildTxt2ImgPayload(params, 2, {}, part));
    expect(payloads.map((p) => [p.seed, p.subseed, p.batch_size])).toEqual([
      [50, 908, 2],
      [50, 910, 2],
    ]);
  });
});

describe('splittable', () => {
  it('is false with Dynamic Prompts, which draw a whole call’s prompts together', () => {
    expect(splittable(generationParams())).toBe(true);
    expect(splittable(generationParams({ enable_dynamic_prompts: true }))).toBe(false);
  });
});

describe('callSeconds', () => {
  it("uses the host's measured rate when it has one, else the calibration with its overhead", () => {
    const params = generationParams({ batch_size: 4, steps: 20 });
    const calibrated = callSeconds(params, DEFAULT_CALIBRATION);
    expect(calibrated).toBeCloseTo(4 * 20 * 0.05 + 1);
    // 0.5 s per step-megapixel measured for 512x512.
    expect(callSeconds(params, DEFAULT_CALIBRATION, { p0: 0.5 })).toBeCloseTo(4 * 20 * 0.262144 * 0.5);
  });
});
