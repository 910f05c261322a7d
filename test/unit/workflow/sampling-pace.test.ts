import { describe, expect, it } from 'vitest';
import { drifted, SamplingFit } from '../../../core/workflow/sampling-pace.ts';

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
    fit.see({ at: 3_000, step: 3, steps: 10 });
    expect(fit.pace()?.stepsPerSecond).toBe(2);
    fit.see({ at: 4_000, step: 1, steps: 10 });
    expect(fit.pace()).toBeUndefined();
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
