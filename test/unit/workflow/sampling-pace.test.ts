import { describe, expect, it } from 'vitest';
import {
  drifted,
  type KnownPaces,
  MIN_FIT_STEPS,
  SamplingFit,
} from '../../../core/workflow/sampling-pace.ts';

describe('sampling pace', () => {
  it('is measured between the first and latest sightings of a pass, the latest taken mid-step', () => {
    const fit = new SamplingFit();
    fit.see({ at: 1_000, step: 2, steps: 20 });
    expect(fit.pace()).toBeUndefined();
    fit.see({ at: 2_000, step: 6, steps: 20 });
    fit.see({ at: 3_000, step: 10, steps: 20 });
    expect(fit.pace()).toEqual({ stepsPerSecond: 4, since: 3_000 - 10.5 * 250 });
  });

  it('starts again with a new pass (hires fix) or a step that goes back', () => {
    const fit = new SamplingFit();
    fit.see({ at: 0, step: 2, steps: 20 });
    fit.see({ at: 1_000, step: 6, steps: 20 });
    fit.see({ at: 2_000, step: 1, steps: 10 });
    expect(fit.pace()).toBeUndefined();
    fit.see({ at: 3_000, step: 5, steps: 10 });
    expect(fit.pace()?.stepsPerSecond).toBe(4);
    // A pass of 10 steps again: placed at once, from one sighting, at the rate the last one had.
    fit.see({ at: 4_000, step: 1, steps: 10 });
    expect(fit.pace()).toEqual({ stepsPerSecond: 4, since: 4_000 - 1.5 * 250, assumed: true });
  });

  it('waits for MIN_FIT_STEPS steps: whole steps a second apart may read double the rate', () => {
    // The SD WebUI kit's CPU takes about 0.8 s a step: polls a second apart see 1 or 2 steps.
    const fit = new SamplingFit();
    fit.see({ at: 2_000, step: 1, steps: 30 });
    fit.see({ at: 3_000, step: 3, steps: 30 });
    fit.see({ at: 4_000, step: 4, steps: 30 });
    expect(MIN_FIT_STEPS).toBe(4);
    expect(fit.pace()).toBeUndefined();
    fit.see({ at: 5_000, step: 5, steps: 30 });
    expect(fit.pace()?.stepsPerSecond).toBe(4 / 3);
    // A short pass shows steps 1 to steps - 2 only: it is measured over as many as it shows.
    const short = new SamplingFit();
    short.see({ at: 2_000, step: 1, steps: 6 });
    short.see({ at: 3_000, step: 3, steps: 6 });
    expect(short.pace()).toBeUndefined();
    short.see({ at: 4_000, step: 4, steps: 6 });
    expect(short.pace()?.stepsPerSecond).toBe(1.5);
  });

  it("places the runner's next call on the host from its first sighting, at the rate the last one measured", () => {
    const known: KnownPaces = new Map();
    const first = new SamplingFit(known);
    first.see({ at: 0, step: 0, steps: 30 });
    first.see({ at: 8_000, step: 10, steps: 30 });
    first.see({ at: 24_000, step: 30, steps: 30 });
    expect(known.get(30)).toBe(1.25);
    const next = new SamplingFit(known);
    // Another step count is another pass: nothing known of it.
    next.see({ at: 30_000, step: 2, steps: 20 });
    expect(next.pace()).toBeUndefined();
    next.see({ at: 31_000, step: 2, steps: 30 });
    expect(next.pace()).toEqual({ stepsPerSecond: 1.25, since: 31_000 - 2_000, assumed: true });
    // Once written, only a fresh measurement corrects it: the known rate is not written twice.
    next.restart();
    next.see({ at: 32_000, step: 4, steps: 30 });
    expect(next.pace()).toBeUndefined();
  });

  it('is measured from the sighting last written once restarted', () => {
    const fit = new SamplingFit();
    fit.see({ at: 0, step: 2, steps: 20 });
    fit.see({ at: 1_000, step: 6, steps: 20 });
    fit.restart();
    fit.see({ at: 3_000, step: 10, steps: 20 });
    expect(fit.pace()?.stepsPerSecond).toBe(2);
  });

  it('has drifted once a poll is more than half a second (and a step) off the written pace', () => {
    const written = { since: 0, stepsPerSecond: 4, steps: 20 };
    expect(drifted(written, { at: 2_000, step: 7, steps: 20 })).toBe(false);
    expect(drifted(written, { at: 2_000, step: 9, steps: 20 })).toBe(false);
    expect(drifted(written, { at: 2_000, step: 5, steps: 20 })).toBe(true);
    expect(drifted(written, { at: 2_000, step: 11, steps: 20 })).toBe(true);
    // A second pass.
    expect(drifted(written, { at: 2_000, step: 8, steps: 10 })).toBe(true);
  });
});
