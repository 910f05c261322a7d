import { describe, expect, it } from 'vitest';
import { formatDuration } from '../../../core/duration.ts';
import { callDeadlineSeconds, remainingSeconds } from '../../../core/estimate.ts';
import type { JobRecord } from '../../../core/job.ts';
import { pollAfterSeconds, toStatusView } from '../../../core/status-view.ts';
import { finalStatus } from '../../../core/workflow/finalize-job.ts';
import { generationParams, jobRecord } from '../../support/job-fixtures.ts';

const job: JobRecord = jobRecord({
  started_at: '2026-11-24T10:00:05.000Z',
  params: generationParams({ batch_size: 4, n_iter: 3 }),
  total_images: 12,
  completed_images: 4,
  current: { iteration: 1, step: 7, steps: 20, updated_at: '2026-11-24T10:02:19.000Z' },
});

describe('durations', () => {
  it.each([
    [0, '0s'],
    [0.3, '1s'],
    [45, '45s'],
    [135, '2m 15s'],
    [3780, '1h 03m'],
  ])('%i s reads %s', (s, text) => expect(formatDuration(s)).toBe(text));
});

describe('ETA', () => {
  it('uses measured throughput once images are done', () => {
    expect(
      remainingSeconds({ elapsedSeconds: 30, doneImages: 4, totalImages: 12, estimatedSeconds: 999 }),
    ).toBe(60);
  });
  it('falls back to the estimate before the first image', () => {
    expect(
      remainingSeconds({ elapsedSeconds: 10, doneImages: 0, totalImages: 12, estimatedSeconds: 60 }),
    ).toBe(50);
  });
  it('is zero when done', () => {
    expect(
      remainingSeconds({ elapsedSeconds: 10, doneImages: 12, totalImages: 12, estimatedSeconds: 60 }),
    ).toBe(0);
  });
});

describe('status view', () => {
  it('reports progress, elapsed, ETA and the current step of a running job', () => {
    const view = toStatusView(job, new Date('2026-11-24T10:02:20.000Z'));
    expect(view.progress).toBe('4/12 images completed');
    expect(view.elapsed_time).toBe('2m 15s');
    // 4 images done and the running call's 4 images 7/20 sampled: 5.4 images in 135 s.
    expect(view.estimated_remaining).toBe('2m 45s');
    expect(view.current).toEqual({ iteration: 1, step: 7, steps: 20 });
    expect(view.poll_after_seconds).toBeGreaterThan(0);
  });

  it('freezes elapsed at the end and drops ETA and current once the job ended', () => {
    const ended = {
      ...job,
      status: 'partial' as const,
      failed_images: 4,
      finished_at: '2026-11-24T10:01:05.000Z',
    };
    const view = toStatusView(ended, new Date('2026-11-24T12:00:00.000Z'));
    expect(view.elapsed_time).toBe('1m 00s');
    expect(view.estimated_remaining).toBeNull();
    expect(view.current).toBeNull();
    expect(view.poll_after_seconds).toBeNull();
    expect(view.progress).toBe('4/12 images completed, 4 failed');
  });
});

describe('final status', () => {
  it.each([
    [12, 'completed'],
    [5, 'partial'],
    [0, 'failed'],
  ])('%i of 12 images is %s', (done, status) => {
    expect(finalStatus({ completed_images: done, total_images: 12 })).toBe(status);
  });
});

describe('SD WebUI call deadline', () => {
  const params = { ...job.params, steps: 30, width: 1024, height: 1024, batch_size: 8 };
  it('grows with steps, pixels and batch size', () => {
    const small = callDeadlineSeconds({ ...job.params, steps: 10 }, { secondsPerStep: 0.05 }, 840);
    const big = callDeadlineSeconds(params, { secondsPerStep: 0.05 }, 840);
    expect(small).toBe(Math.ceil(4 * 4 * 10 * 0.05 + 60));
    expect(big).toBeGreaterThan(small);
  });
  it('never exceeds the cap below the task time-out', () => {
    expect(callDeadlineSeconds({ ...params, enable_hr: true, hr_scale: 2 }, { secondsPerStep: 1 }, 840)).toBe(
      840,
    );
  });
});

describe('current step', () => {
  it('is dropped once its iteration has been counted', () => {
    const at = new Date('2026-11-24T10:02:20.000Z');
    expect(toStatusView({ ...job, counted: new Set([0]) }, at).current).toEqual({
      iteration: 1,
      step: 7,
      steps: 20,
    });
    expect(toStatusView({ ...job, counted: new Set([0, 1]) }, at).current).toBeNull();
  });
});

describe('live step', () => {
  // Written at 10:02:19 by the call's polls: sampling began at 10:02:17.5, 4 steps a second.
  const paced = {
    ...job,
    current: {
      iteration: 1,
      step: 5,
      steps: 20,
      updated_at: '2026-11-24T10:02:19.000Z',
      sampling_since: '2026-11-24T10:02:17.500Z',
      steps_per_second: 4,
    },
  };
  const stepAt = (iso: string) => toStatusView(paced, new Date(iso)).current?.step;

  it('is worked out when status is read, from when sampling began and its rate', () => {
    expect(stepAt('2026-11-24T10:02:19.000Z')).toBe(6);
    expect(stepAt('2026-11-24T10:02:20.000Z')).toBe(10);
    expect(stepAt('2026-11-24T10:02:21.900Z')).toBe(17);
  });

  it('holds at the last step while the call decodes, and never goes behind the step seen', () => {
    expect(stepAt('2026-11-24T10:02:30.000Z')).toBe(20);
    // A reader whose clock is behind the writer's.
    expect(stepAt('2026-11-24T10:02:17.000Z')).toBe(5);
  });

  it('makes the ETA fall while the call samples', () => {
    const etas = ['10:02:19', '10:02:20', '10:02:21', '10:02:22'].map(
      (t) => toStatusView(paced, new Date(`2026-11-24T${t}.000Z`)).estimated_remaining_seconds as number,
    );
    for (let i = 1; i < etas.length; i++) expect(etas[i]).toBeLessThan(etas[i - 1] as number);
  });
});

describe("ETA between counts, before a call's pace is known", () => {
  // 2 of 12 images counted 4 s into the job (2 s an image); the next call has no pace written yet.
  const counted = jobRecord({
    started_at: '2026-11-24T10:00:00.000Z',
    params: generationParams({ batch_size: 2, n_iter: 6 }),
    total_images: 12,
    completed_images: 2,
    counted: new Set([0]),
    counted_at: '2026-11-24T10:00:04.000Z',
  });
  const etaAt = (second: number) =>
    toStatusView(counted, new Date(Date.parse('2026-11-24T10:00:00.000Z') + second * 1000))
      .estimated_remaining_seconds;

  it('falls second by second while the count holds, instead of climbing', () => {
    expect([4, 5, 6, 7].map(etaAt)).toEqual([20, 19, 18, 17]);
  });

  it('stops at half an image, never saying the job is over', () => {
    expect(etaAt(60)).toBe(1);
  });
});

describe('poll after', () => {
  it('is a quarter of the time left, at least a second and at most a minute', () => {
    expect(pollAfterSeconds(3)).toBe(1);
    expect(pollAfterSeconds(40)).toBe(10);
    expect(pollAfterSeconds(3600)).toBe(60);
  });
  it('is never longer than the job has left, down to a second', () => {
    for (let left = 1; left <= 300; left++) expect(pollAfterSeconds(left)).toBeLessThanOrEqual(left);
  });
});
