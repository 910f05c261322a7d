import { describe, expect, it } from 'vitest';
import { JOB_ID_PATTERN, newJobId } from '../../../core/job-id.ts';
import { StartInput } from '../../../core/params/generation.ts';
import {
  iterationSeeds,
  othersIterations,
  planJob,
  runnerCount,
  runnerIterations,
  workflowInput,
} from '../../../core/plan.ts';
import { mergeParams } from '../../../core/presets/merge.ts';
import { buildTxt2ImgPayload, dropNullish } from '../../../core/txt2img-payload.ts';

const ctx = {
  jobId: 'job_20261124_abcdefghij',
  owner: 'alice',
  now: new Date('2026-11-24T10:00:00Z'),
  retentionSeconds: 3600,
  calibration: { secondsPerStep: 0.1 },
  pool: { hosts: 1, slots: 2 },
};
const params = (input: StartInput) => mergeParams({}, input, () => 1234);

describe('job ids', () => {
  it('read job_YYYYMMDD_<base32> and differ each time', () => {
    const id = newJobId(new Date('2026-11-24T23:59:00Z'));
    expect(id).toMatch(JOB_ID_PATTERN);
    expect(id.startsWith('job_20261124_')).toBe(true);
    expect(newJobId()).not.toBe(newJobId());
  });
});

describe('planJob', () => {
  it('fills defaults, resolves seed -1 to a concrete seed and counts images', () => {
    const job = planJob(params({ prompt: 'a cat', batch_size: 4, n_iter: 3 }), ctx);
    expect(job.params).toMatchObject({ prompt: 'a cat', width: 512, height: 512, steps: 20, seed: 1234 });
    expect(job.total_images).toBe(12);
    expect(job.status).toBe('pending');
    expect(job.expires_at).toBe(Date.parse('2026-11-24T11:00:00Z') / 1000);
    expect(job.estimated_seconds).toBe(Math.ceil(12 * 20 * 0.1));
  });

  it('never estimates a job that takes time at 0 seconds', () => {
    const tiny = planJob(params({ prompt: 'x', steps: 1, width: 64, height: 64 }), ctx);
    expect(tiny.estimated_seconds).toBe(1);
  });

  it('keeps an explicit seed', () => {
    expect(planJob(params({ prompt: 'x', seed: 42 }), ctx).params.seed).toBe(42);
  });
});

describe('iteration seeds', () => {
  it('match one SD WebUI call of the same seed, batch_size and n_iter', () => {
    const p = params({ prompt: 'x', seed: 100, batch_size: 4, n_iter: 3 });
    const split = [0, 1, 2].flatMap((i) => iterationSeeds(p, i));
    expect(split).toEqual(Array.from({ length: 12 }, (_, k) => 100 + k));
  });
});

describe('txt2img payload', () => {
  it('asks for one batch with the iteration seed and never sends undefined fields', () => {
    const p = params({ prompt: 'x', seed: 7, batch_size: 2, n_iter: 5 });
    const payload = buildTxt2ImgPayload(p, 3);
    expect(payload).toMatchObject({
      seed: 13,
      batch_size: 2,
      n_iter: 1,
      send_images: true,
      save_images: false,
    });
    expect('scheduler' in payload).toBe(false);
  });

  it('drops nulls recursively but keeps array positions', () => {
    expect(dropNullish({ a: null, b: { c: undefined, d: 1 }, e: [null, 2] })).toEqual({
      b: { d: 1 },
      e: [null, 2],
    });
  });
});

describe('start input limits', () => {
  const cases: Array<[string, Record<string, unknown>]> = [
    ['batch_size', { batch_size: 9 }],
    ['batch_size', { batch_size: 0 }],
    ['n_iter', { n_iter: 101 }],
    ['width', { width: 513 }],
    ['height', { height: 4096 }],
    ['steps', { steps: 0 }],
    ['seed', { seed: -2 }],
    ['cfg_scale', { cfg_scale: 31 }],
  ];
  it.each(cases)('rejects a bad %s and names it', (field, bad) => {
    const result = StartInput.safeParse({ prompt: 'x', ...bad });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path).toEqual([field]);
  });

  it('accepts the largest job: 8 x 100 = 800 images', () => {
    expect(StartInput.safeParse({ prompt: 'x', batch_size: 8, n_iter: 100 }).success).toBe(true);
  });

  it('requires a prompt', () => {
    expect(StartInput.safeParse({}).success).toBe(false);
  });
});

describe('runners', () => {
  it('are decided once, in the plan, from the pool’s slots; every start of the execution uses them', () => {
    const job = planJob(params({ prompt: 'x', n_iter: 12 }), { ...ctx, pool: { hosts: 4, slots: 8 } });
    expect(job.runners).toBe(4);
    expect(workflowInput(job)).toEqual({ job_id: ctx.jobId, runners: 4, runner_ids: [0, 1, 2, 3] });
    // A record from before plans had runners resumes with one runner, which makes everything left.
    const { runners: _, ...older } = job;
    expect(workflowInput(older)).toMatchObject({ runners: 1, runner_ids: [0] });
  });

  it('gets one generate task per two slots, never more than two calls each of its iterations', () => {
    expect(runnerCount(100, 2)).toBe(1);
    expect(runnerCount(100, 8)).toBe(4);
    expect(runnerCount(100, 3)).toBe(2);
    expect(runnerCount(3, 256)).toBe(2);
    expect(runnerCount(20, 32)).toBe(10);
    expect(runnerCount(1000, 256)).toBe(40);
    expect(runnerCount(1, 1)).toBe(1);
  });

  it("shares a job's iterations among its runners, each exactly once, interleaved", () => {
    for (const [nIter, runners] of [
      [100, 4],
      [7, 3],
      [1, 1],
      [5, 5],
    ] as const) {
      const all = Array.from({ length: runners }, (_, r) => runnerIterations(r, runners, nIter));
      expect(all.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: nIter }, (_, i) => i));
      // Balanced: no runner has more than one iteration more than another.
      const sizes = all.map((a) => a.length);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    }
    expect(runnerIterations(1, 3, 7)).toEqual([1, 4]);
  });

  it('has a runner done with its own help with the others’ iterations, last first', () => {
    expect(othersIterations(1, 3, 7)).toEqual([6, 5, 3, 2, 0]);
    expect(othersIterations(0, 1, 3)).toEqual([]);
  });
});
