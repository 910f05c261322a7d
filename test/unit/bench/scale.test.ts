import { describe, expect, it } from 'vitest';
import { cellPlan, type ScaleCell, scaleVerdicts } from '../../../bench/scale.ts';
import { replaceScaleSection, scaleSection } from '../../../bench/scale-section.ts';

const cell = (over: Partial<ScaleCell>): ScaleCell => ({
  hosts: 16,
  queued: 0,
  imageMs: 500,
  capMs: 60_000,
  jobs: 1,
  images: 20,
  windowed: false,
  finished: true,
  jobsEnded: 1,
  imagesMade: 20,
  rruPerImage: 3,
  wruPerImage: 4,
  dollarsPer1000: 0.003,
  peakReadAt5s: 1,
  peakWriteAt5s: 1,
  makespanMs: 1000,
  gpuMsPerHost: 1000,
  makespanRatio: 1,
  busy: 1,
  refusalsPerImage: 0,
  failedConditionsPerImage: 0,
  transitionsPerImage: 1,
  lambdaSecondsPerImage: 0.1,
  cpuShare: 0.5,
  submitMs: 10,
  topOps: [],
  dynaliteChecks: { agree: 0, disagree: 0 },
  meterSeconds: 0,
  ...over,
});

describe('scale cells', () => {
  it("run the issue's 0.5 s images where 50 jobs fit in about 40 s of GPU time, the same in every row of a host count", () => {
    expect(cellPlan(16, 50)).toMatchObject({ imageMs: 500 });
    expect(cellPlan(16, 0)).toMatchObject({ imageMs: 500 });
    // 1,000 images on one host: 40 ms each is 40 s; its one-job row runs as fast.
    expect(cellPlan(1, 50)).toMatchObject({ imageMs: 40 });
    expect(cellPlan(1, 0)).toMatchObject({ imageMs: 40 });
    // A thousand queued jobs are measured over a window of 50 (1,000 images), as 50 queued are.
    expect(cellPlan(1, 1000)).toMatchObject({ imageMs: 40 });
    expect(cellPlan(16, 1000)).toMatchObject({ imageMs: 500 });
    // 64 hosts at 0.5 s would make 256 images a second, more than two cores coordinate: 2 s.
    expect(cellPlan(64, 0)).toMatchObject({ imageMs: 2000 });
    expect(cellPlan(64, 1000)).toMatchObject({ imageMs: 2000 });
  });

  it("judge a row against its host count's one-job row, within 10%", () => {
    const alone = cell({});
    expect(scaleVerdicts(alone, alone)).toEqual(['pass (the baseline of its host count)']);
    expect(scaleVerdicts(cell({ queued: 5, rruPerImage: 3.3 }), alone)).toEqual(['pass']);
    expect(scaleVerdicts(cell({ queued: 5, rruPerImage: 3.4, transitionsPerImage: 2 }), alone)).toEqual([
      'FAIL: read units 1.13x the one-job row',
      'FAIL: transitions 2.00x the one-job row',
    ]);
  });

  it('hold 16 x 50 to the makespan, busy and failed-write targets, 64 x 1,000 to the per-key limits', () => {
    const busy = cell({ queued: 50, makespanRatio: 1.03, busy: 0.97, failedConditionsPerImage: 0.2 });
    expect(scaleVerdicts(busy, undefined)).toEqual([
      'FAIL: makespan > 1.02x',
      'FAIL: busy < 98%',
      'FAIL: failed conditional writes > 0.1/image',
    ]);
    const hot = cell({ hosts: 64, queued: 1000, peakReadAt5s: 1000, peakWriteAt5s: 332 });
    expect(scaleVerdicts(hot, undefined)).toEqual(['FAIL: hottest key >= 1,000 RCU/s']);
    expect(scaleVerdicts(cell({ finished: false }), undefined)[0]).toBe('FAIL: NOT FINISHED within 60 s');
  });
});

describe("BENCHMARKS.md's Scale section", () => {
  it('is replaced in place, added when missing, and kept by the other writer', () => {
    const bench = '# sdbatch benchmarks\n\nrows\n';
    const once = replaceScaleSection(bench, '## Scale\n\nv1\n');
    expect(once).toBe('# sdbatch benchmarks\n\nrows\n\n## Scale\n\nv1\n');
    expect(replaceScaleSection(once, '## Scale\n\nv2\n')).toBe(
      '# sdbatch benchmarks\n\nrows\n\n## Scale\n\nv2\n',
    );
    expect(replaceScaleSection('# new main part\n', scaleSection(once))).toBe(
      '# new main part\n\n## Scale\n\nv1\n',
    );
  });
});
