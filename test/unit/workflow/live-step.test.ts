import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_CALIBRATION } from '../../../core/estimate.ts';
import type { CurrentProgress, JobRecord } from '../../../core/job.ts';
import type { SdProgress, SdWebUi } from '../../../core/ports.ts';
import { etaPrior, toStatusView } from '../../../core/status-view.ts';
import { PROGRESS_WRITE_MS, startProgressReporter } from '../../../core/workflow/progress-reporter.ts';
import { generationParams, jobRecord } from '../../support/job-fixtures.ts';

/**
 * A job of four one-image calls on a GPU host sampling 20 steps at 4 steps a second (a real GPU's
 * 5 s image), polled every second and written at most every PROGRESS_WRITE_MS as in production,
 * its status read every half second on the same injected clock (fake timers).
 */
const STEPS = 20;
const STEP_MS = 250;
/** Decoding after the last step, and the wait before the next call samples (one call at a time). */
const DECODE_MS = 300;
const QUEUE_MS = 50;
const POLL_MS = 1_000;
const READ_MS = 500;
const CALLS = 4;

/** One request the host runs: from when its sampling begins to when its answer is done. */
interface Run {
  ts: string;
  begin: number;
  end: number;
  /** ms per step from `slowFrom` on (a host that slows down mid-call). */
  slowFrom?: number;
  slowStepMs?: number;
}

/** Steps the run has finished at `now`. */
function finishedSteps(run: Run, now: number): number {
  const fast = Math.floor((now - run.begin) / STEP_MS);
  if (run.slowFrom === undefined || now < run.slowFrom) return Math.min(STEPS, fast);
  const before = Math.floor((run.slowFrom - run.begin) / STEP_MS);
  return Math.min(STEPS, before + Math.floor((now - run.slowFrom) / (run.slowStepMs ?? STEP_MS)));
}

/** SD WebUI's /progress for the run on the host's clock: the 0-based index of the step last finished. */
function timedHost(runs: Run[]): SdWebUi {
  return {
    txt2img: async () => {
      throw new Error('not used');
    },
    progress: async (): Promise<SdProgress> => {
      const now = Date.now();
      const running = runs.find((r) => now >= r.begin && now < r.end);
      if (running) {
        const finished = finishedSteps(running, now);
        return {
          progress: finished / STEPS,
          step: Math.max(0, finished - 1),
          steps: STEPS,
          jobTimestamp: running.ts,
          interrupted: false,
        };
      }
      const last = runs.filter((r) => now >= r.end).at(-1);
      return {
        progress: 0,
        step: 0,
        steps: 0,
        jobTimestamp: null,
        interrupted: false,
        ...(last ? { lastJobTimestamp: last.ts } : {}),
      };
    },
    interrupt: async () => {},
    scriptTitles: async () => [],
    checkpoints: async () => [],
    samplers: async () => [],
    schedulers: async () => undefined,
    upscalers: async () => [],
    adetailerModels: async () => undefined,
    controlNetModels: async () => undefined,
  };
}

interface Reading {
  call: number;
  /** What the host shows at this moment (undefined while no call of the job samples). */
  truth?: number;
  step?: number;
  eta: number | null;
}

/** Runs the job's calls one after another, reading status every READ_MS; `slow` slows the given call. */
async function runJob(
  slow?: { call: number; afterMs: number; stepMs: number },
  { decodeMs, queueMs } = { decodeMs: DECODE_MS, queueMs: QUEUE_MS },
) {
  const start = Date.now();
  let job: JobRecord = jobRecord({
    started_at: new Date(start).toISOString(),
    params: generationParams({ steps: STEPS, batch_size: 1, n_iter: CALLS }),
    total_images: CALLS,
    estimated_seconds: (CALLS * (STEPS * STEP_MS + decodeMs + queueMs)) / 1000,
    counted: new Set(),
  });
  const runs: Run[] = [];
  const sd = timedHost(runs);
  const writesPerCall: number[] = [];
  const readings: Reading[] = [];
  for (let call = 0; call < CALLS; call++) {
    let writes = 0;
    const reporter = startProgressReporter({
      sd,
      iteration: call,
      write: async (current: CurrentProgress) => {
        writes++;
        job = { ...job, current };
      },
      now: () => new Date(),
      pollMs: POLL_MS,
      writeEveryMs: PROGRESS_WRITE_MS,
    });
    await reporter.ready;
    reporter.sent();
    const begin = Date.now() + queueMs;
    const run: Run = {
      ts: `2026112410000${call}`,
      begin,
      end: begin + STEPS * STEP_MS + decodeMs,
      ...(slow?.call === call ? { slowFrom: begin + slow.afterMs, slowStepMs: slow.stepMs } : {}),
    };
    if (slow?.call === call) {
      run.end = begin + slow.afterMs + (STEPS - slow.afterMs / STEP_MS) * slow.stepMs + decodeMs;
    }
    runs.push(run);
    while (Date.now() < run.end) {
      await vi.advanceTimersByTimeAsync(READ_MS);
      const now = Date.now();
      const view = toStatusView(job, new Date(now), etaPrior(job, DEFAULT_CALIBRATION, 1));
      const sampling = now >= run.begin && now < run.end;
      readings.push({
        call,
        ...(sampling ? { truth: Math.max(0, finishedSteps(run, now) - 1) } : {}),
        ...(view.current ? { step: view.current.step } : {}),
        eta: view.estimated_remaining_seconds,
      });
    }
    await reporter.stop();
    writesPerCall.push(writes);
    job = {
      ...job,
      completed_images: job.completed_images + 1,
      counted: new Set([...(job.counted ?? []), call]),
    };
  }
  return { readings, writesPerCall, end: Date.now() };
}

describe('live step through a running job', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: new Date('2026-11-24T10:00:00.000Z') });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('shows the step sampled now, within a second of the truth, from one write per call', async () => {
    const { readings, writesPerCall } = await runJob();
    // One write per call at a steady rate (writing the step every 5 s also took one: no more writes).
    expect(writesPerCall).toEqual([1, 1, 1, 1]);
    const sampling = readings.filter((r) => r.truth !== undefined);
    const shown = sampling.filter((r) => r.step !== undefined);
    // The first two polls of a call measure its rate; from then on the step is shown.
    expect(shown.length).toBeGreaterThanOrEqual(sampling.length - 3 * CALLS);
    const stepsPerSecond = 1000 / STEP_MS;
    for (const r of shown)
      expect(Math.abs((r.step as number) - (r.truth as number))).toBeLessThanOrEqual(stepsPerSecond);
    expect(shown.filter((r) => r.step === 0)).toHaveLength(0);
  });

  it('has the ETA fall steadily while the job runs at a steady rate', async () => {
    // A host at depth 2 samples the runner's next call as soon as this one stops (its decoding
    // overlaps): the pace carried past a call's last step is the next call's.
    const { readings } = await runJob(undefined, { decodeMs: 0, queueMs: 0 });
    const etas = readings.map((r) => r.eta as number);
    // Rounded to whole seconds: it may hold for a read, never climb.
    for (let i = 1; i < etas.length; i++) expect(etas[i]).toBeLessThanOrEqual(etas[i - 1] as number);
    // 20 s of work read every half second: a second less each second, down to the half image
    // a job keeps until its last images are counted (about 3 s here).
    expect((etas[0] as number) - (etas.at(-1) as number)).toBeGreaterThanOrEqual(17);
    expect(etas.at(-1)).toBeGreaterThan(0);
    // One call at a time, 0.35 s apart: it ticks up at most a second as a call's pace is written.
    const apart = (await runJob()).readings.map((r) => r.eta as number);
    for (let i = 1; i < apart.length; i++) expect(apart[i]).toBeLessThanOrEqual((apart[i - 1] as number) + 1);
  });

  it('writes again when the host slows down mid-call, no more often than every PROGRESS_WRITE_MS', async () => {
    // Call 1 samples 8 steps at 4 a second, then its pace is written, then 12 at 0.75 s a step.
    const { readings, writesPerCall } = await runJob({ call: 1, afterMs: 2_000, stepMs: 750 });
    expect(writesPerCall).toEqual([1, 2, 1, 1]);
    const slowed = readings.filter((r) => r.call === 1 && r.truth !== undefined && r.step !== undefined);
    // Rewritten PROGRESS_WRITE_MS after the first write, at the pace measured since: from then on
    // (the last 4 s of sampling) within a step of the truth, less than a second at this pace.
    const rewritten = slowed.slice(-8);
    for (const r of rewritten)
      expect(Math.abs((r.step as number) - (r.truth as number))).toBeLessThanOrEqual(1);
  });

  it('writes a long call at a steady rate once (its step written every 5 s took four writes)', async () => {
    // Call 0 samples its 20 steps at one a second.
    const { readings, writesPerCall } = await runJob({ call: 0, afterMs: 0, stepMs: 1_000 });
    expect(writesPerCall).toEqual([1, 1, 1, 1]);
    const long = readings.filter((r) => r.call === 0 && r.truth !== undefined && r.step !== undefined);
    for (const r of long) expect(Math.abs((r.step as number) - (r.truth as number))).toBeLessThanOrEqual(1);
  });
});
