import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_CALIBRATION } from '../../../core/estimate.ts';
import type { CurrentProgress, JobRecord } from '../../../core/job.ts';
import type { SdProgress, SdWebUi } from '../../../core/ports.ts';
import { etaPrior, toStatusView } from '../../../core/status-view.ts';
import { PROGRESS_WRITE_MS, startProgressReporter } from '../../../core/workflow/progress-reporter.ts';
import type { KnownPaces } from '../../../core/workflow/sampling-pace.ts';
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
  /** Another host's pace (see KIT): its steps, its first step's ms and every other step's. */
  pace?: HostPace;
}

interface HostPace {
  steps: number;
  firstStepMs: number;
  stepMs: number;
}

/** The SD WebUI kit's CPU as measured (30 steps at 64x64): 1.5 s to the first step, then 0.8 s a step. */
const KIT: HostPace = { steps: 30, firstStepMs: 1_500, stepMs: 800 };

const stepsOf = (run: Run) => run.pace?.steps ?? STEPS;

/** Steps the run has finished at `now`. */
function finishedSteps(run: Run, now: number): number {
  if (run.pace) {
    const { steps, firstStepMs, stepMs } = run.pace;
    const t = now - run.begin;
    return t < firstStepMs ? 0 : Math.min(steps, 1 + Math.floor((t - firstStepMs) / stepMs));
  }
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
          progress: finished / stepsOf(running),
          step: Math.max(0, finished - 1),
          steps: stepsOf(running),
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
  { decodeMs, queueMs, pace }: { decodeMs: number; queueMs: number; pace?: HostPace } = {
    decodeMs: DECODE_MS,
    queueMs: QUEUE_MS,
  },
) {
  const start = Date.now();
  const steps = pace?.steps ?? STEPS;
  const samplingMs = pace ? pace.firstStepMs + (steps - 1) * pace.stepMs : STEPS * STEP_MS;
  let job: JobRecord = jobRecord({
    started_at: new Date(start).toISOString(),
    params: generationParams({ steps, batch_size: 1, n_iter: CALLS }),
    total_images: CALLS,
    estimated_seconds: (CALLS * (samplingMs + decodeMs + queueMs)) / 1000,
    counted: new Set(),
  });
  const runs: Run[] = [];
  const sd = timedHost(runs);
  const writesPerCall: number[] = [];
  const readings: Reading[] = [];
  // The runner's rates on its one host, as generate-iteration keeps them (RunnerCalls.paces).
  const paces: KnownPaces = new Map();
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
      paces,
    });
    await reporter.ready;
    reporter.sent();
    const begin = Date.now() + queueMs;
    const run: Run = {
      ts: `2026112410000${call}`,
      begin,
      end: begin + samplingMs + decodeMs,
      ...(pace ? { pace } : {}),
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
    // One call at a time, 0.35 s apart: the pace carried past a call's last step runs ahead of the
    // next call by that gap, so the ETA ticks up (at most 2 s of 20) as the next call is placed.
    const apart = (await runJob()).readings.map((r) => r.eta as number);
    for (let i = 1; i < apart.length; i++) expect(apart[i]).toBeLessThanOrEqual((apart[i - 1] as number) + 2);
  });

  it('writes again when the host slows down mid-call, then no more often than every PROGRESS_WRITE_MS', async () => {
    // Call 1 samples 8 steps at 4 a second, then its pace is written, then 12 at 0.75 s a step:
    // 11 s, which its step written every 5 s took three writes for too.
    const { readings, writesPerCall } = await runJob({ call: 1, afterMs: 2_000, stepMs: 750 });
    // Call 1 is placed at call 0's pace, measured at once over the change (both paces mixed), and
    // put right PROGRESS_WRITE_MS later; call 2, placed at call 1's slow pace, at once.
    expect(writesPerCall).toEqual([1, 3, 2, 1]);
    const slowed = readings.filter((r) => r.call === 1 && r.truth !== undefined && r.step !== undefined);
    // From the third write on (the last 2.5 s of sampling) within a step of the truth, less than a
    // second at this pace.
    const rewritten = slowed.slice(-5);
    for (const r of rewritten)
      expect(Math.abs((r.step as number) - (r.truth as number))).toBeLessThanOrEqual(1);
  });

  it("keeps within a second of the SD WebUI kit's pace, a step every 0.8 s polled every second", async () => {
    const { readings, writesPerCall } = await runJob(undefined, {
      decodeMs: DECODE_MS,
      queueMs: QUEUE_MS,
      pace: KIT,
    });
    const figures = JSON.stringify(readings.map((r) => [r.call, r.truth, r.step]));
    // Calls take 25 s: their step written every 5 s took five writes each.
    for (const writes of writesPerCall) expect(writes).toBeLessThanOrEqual(3);
    const shown = readings.filter((r) => r.truth !== undefined && r.step !== undefined);
    const perSecond = 1000 / KIT.stepMs;
    for (const r of shown)
      expect(Math.abs((r.step as number) - (r.truth as number)), figures).toBeLessThanOrEqual(perSecond);
    // The first call is measured over three steps; the next ones are placed from their first poll.
    const sampling = readings.filter((r) => r.truth !== undefined);
    const unshown = (call: number) => sampling.filter((r) => r.call === call && r.step === undefined).length;
    expect(unshown(0), figures).toBeLessThanOrEqual(12);
    for (const call of [1, 2, 3]) expect(unshown(call), figures).toBeLessThanOrEqual(5);
  });

  it('writes a long call at a steady rate once (its step written every 5 s took four writes)', async () => {
    // Call 0 samples its 20 steps at one a second; call 1, placed at that pace, is put right once.
    const { readings, writesPerCall } = await runJob({ call: 0, afterMs: 0, stepMs: 1_000 });
    expect(writesPerCall).toEqual([1, 2, 1, 1]);
    const long = readings.filter((r) => r.call === 0 && r.truth !== undefined && r.step !== undefined);
    for (const r of long) expect(Math.abs((r.step as number) - (r.truth as number))).toBeLessThanOrEqual(1);
  });
});
