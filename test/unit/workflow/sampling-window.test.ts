import { describe, expect, it } from 'vitest';
import type { SdProgress } from '../../../core/ports.ts';
import { type ProgressPoll, samplingSeconds } from '../../../core/workflow/sampling-window.ts';

const idle: SdProgress = { progress: 0, step: 0, steps: 0, jobTimestamp: null, interrupted: false };
const busy = (jobTimestamp: string, progress: number): SdProgress => ({
  progress,
  step: Math.round(progress * 20),
  steps: 20,
  jobTimestamp,
  interrupted: false,
});
/** Polls every 100 ms from t = 0, each answered 10 ms after it was sent. */
const polls = (...answers: SdProgress[]): ProgressPoll[] =>
  answers.map((progress, i) => ({ sentAt: i * 100, receivedAt: i * 100 + 10, progress }));

describe('sampling window', () => {
  it('is the whole call when the GPU was idle at the first poll and nothing followed', () => {
    const seen = polls(idle, busy('A', 0.2), busy('A', 0.6), busy('A', 0.9));
    expect(samplingSeconds(seen, 5, 405)).toBeCloseTo(0.4);
  });

  it('leaves out the wait behind the request that was running when ours was sent', () => {
    // Ours began between the poll sent at 200 and the one answered at 310.
    const seen = polls(busy('A', 0.5), busy('A', 0.9), busy('A', 0.95), busy('B', 0.1), busy('B', 0.5));
    expect(samplingSeconds(seen, 5, 500)).toBeCloseTo((500 - 255) / 1000);
  });

  it('counts from the last poll before the send: a previous call’s request seen earlier is not ours', () => {
    // Idle at first; the runner's previous call (A) ran, ours went out at 250, began between the
    // poll sent at 300 and the one answered at 410, and was answered at 600.
    const seen = polls(idle, busy('A', 0.3), busy('A', 0.6), busy('A', 0.9), busy('B', 0.2), busy('B', 0.6));
    expect(samplingSeconds(seen, 250, 600)).toBeCloseTo((600 - 355) / 1000);
  });

  it('tells two requests of the same second apart by progress going back', () => {
    const seen = polls(busy('A', 0.5), busy('A', 0.9), busy('A', 0.2), busy('A', 0.6));
    expect(samplingSeconds(seen, 5, 400)).toBeCloseTo((400 - 155) / 1000);
  });

  it('leaves out the encoding and transfer that overlapped the next request', () => {
    // Ours (B) ends between the poll sent at 300 and the one answered at 410, when C appears.
    const seen = polls(busy('A', 0.5), busy('B', 0.1), busy('B', 0.5), busy('B', 0.9), busy('C', 0.1));
    expect(samplingSeconds(seen, 5, 480)).toBeCloseTo((355 - 55) / 1000);
    // An idle poll ends it just as well.
    const then = polls(idle, busy('A', 0.5), busy('A', 0.9), idle, idle);
    expect(samplingSeconds(then, 5, 480)).toBeCloseTo((255 - 5) / 1000);
  });

  it('falls back to the call time when no poll answered or ours was never told apart', () => {
    expect(samplingSeconds([], 0, 750)).toBe(0.75);
    expect(samplingSeconds(polls(busy('A', 0.3), busy('A', 0.8)), 5, 205)).toBeCloseTo(0.2);
    // Polls sent after the call ended say nothing about it.
    expect(samplingSeconds(polls(idle, busy('A', 0.5)), 5, 50)).toBeCloseTo(0.045);
  });
});
