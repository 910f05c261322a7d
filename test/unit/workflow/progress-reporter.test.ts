import { describe, expect, it } from 'vitest';
import type { CurrentProgress } from '../../../core/job.ts';
import type { SdProgress, SdWebUi } from '../../../core/ports.ts';
import { startProgressReporter } from '../../../core/workflow/progress-reporter.ts';

/** Replays a scripted sequence of /progress answers, then stays on the last one. */
function scriptedHost(answers: SdProgress[]): SdWebUi {
  let i = 0;
  return {
    txt2img: async () => {
      throw new Error('not used');
    },
    progress: async () => answers[Math.min(i++, answers.length - 1)] as SdProgress,
    interrupt: async () => {},
    scriptTitles: async () => [],
    checkpoints: async () => [],
  };
}

const busy = (jobTimestamp: string, step: number): SdProgress => ({
  progress: 0.5,
  step,
  steps: 10,
  jobTimestamp,
});
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('progress reporter', () => {
  it('ignores the request that was running when ours was sent and reports ours', async () => {
    const writes: CurrentProgress[] = [];
    const reporter = startProgressReporter({
      sd: scriptedHost([
        busy('20261124100000', 8),
        busy('20261124100000', 9),
        busy('20261124100007', 2),
        busy('20261124100007', 5),
      ]),
      iteration: 3,
      write: async (c) => {
        writes.push(c);
      },
      now: () => new Date('2026-11-24T10:00:00Z'),
      pollMs: 1,
      writeEveryMs: 0,
    });
    await wait(50);
    await reporter.stop();
    expect(writes.map((w) => [w.iteration, w.step])).toEqual([
      [3, 2],
      [3, 5],
    ]);
  });

  it('throttles writes and survives failing polls', async () => {
    let calls = 0;
    const writes: CurrentProgress[] = [];
    const sd: SdWebUi = {
      txt2img: async () => {
        throw new Error('not used');
      },
      progress: async () => {
        calls++;
        if (calls % 2 === 0) throw new Error('flaky');
        return { progress: 0.1, step: calls, steps: 100, jobTimestamp: calls === 1 ? null : 'ours' };
      },
      interrupt: async () => {},
      scriptTitles: async () => [],
      checkpoints: async () => [],
    };
    const reporter = startProgressReporter({
      sd,
      iteration: 0,
      write: async (c) => {
        writes.push(c);
      },
      now: () => new Date(),
      pollMs: 1,
      writeEveryMs: 10_000,
    });
    await wait(50);
    await reporter.stop();
    expect(calls).toBeGreaterThan(4);
    expect(writes).toHaveLength(1);
  });
});

describe('progress reporter observation', () => {
  it('hands every answered poll to observe, with when it was sent and answered', async () => {
    const seen: Array<{ sentAt: number; receivedAt: number; jobTimestamp: string | null }> = [];
    const before = Date.now();
    const reporter = startProgressReporter({
      sd: scriptedHost([{ progress: 0, step: 0, steps: 0, jobTimestamp: null }, busy('20261124100007', 2)]),
      iteration: 0,
      write: async () => {},
      now: () => new Date(),
      pollMs: 1,
      writeEveryMs: 0,
      observe: (poll) =>
        seen.push({
          sentAt: poll.sentAt,
          receivedAt: poll.receivedAt,
          jobTimestamp: poll.progress.jobTimestamp,
        }),
    });
    await wait(30);
    await reporter.stop();
    expect(seen.length).toBeGreaterThan(2);
    expect(seen[0]?.jobTimestamp).toBeNull();
    expect(seen[1]?.jobTimestamp).toBe('20261124100007');
    for (const poll of seen) {
      expect(poll.sentAt).toBeGreaterThanOrEqual(before);
      expect(poll.receivedAt).toBeGreaterThanOrEqual(poll.sentAt);
    }
  });
});

describe('progress reporter readiness', () => {
  it('is ready only once the first poll has answered, so our request is sent after it', async () => {
    let answer: (p: SdProgress) => void = () => {};
    const host = scriptedHost([]);
    host.progress = () =>
      new Promise<SdProgress>((resolve) => {
        answer = resolve;
      });
    const reporter = startProgressReporter({
      sd: host,
      iteration: 0,
      write: async () => {},
      now: () => new Date(),
      pollMs: 1,
      writeEveryMs: 0,
    });
    let ready = false;
    void reporter.ready.then(() => {
      ready = true;
    });
    await wait(20);
    expect(ready).toBe(false);
    answer(busy('20261124100000', 1));
    await wait(5);
    expect(ready).toBe(true);
    answer(busy('20261124100000', 2));
    await reporter.stop();
  });
});
