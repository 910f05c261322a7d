import { describe, expect, it } from 'vitest';
import { formatDuration } from '../../../core/duration.ts';
import { callDeadlineSeconds, remainingSeconds } from '../../../core/estimate.ts';
import type { JobRecord } from '../../../core/job.ts';
import { toStatusView } from '../../../core/status-view.ts';
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
    expect(view.estimated_remaining).toBe('4m 30s');
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
