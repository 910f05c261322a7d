import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CurrentProgress } from '../../../core/job.ts';
import type { SdProgress, SdWebUi } from '../../../core/ports.ts';
import { startProgressReporter } from '../../../core/workflow/progress-reporter.ts';
import { HostCall } from '../../../core/workflow/request-order.ts';

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
    samplers: async () => [],
    schedulers: async () => undefined,
    upscalers: async () => [],
    adetailerModels: async () => undefined,
    controlNetModels: async () => undefined,
  };
}

const busy = (jobTimestamp: string, step: number): SdProgress => ({
  progress: 0.5,
  step,
  steps: 10,
  jobTimestamp,
  interrupted: false,
});
/** The reporter's polls run on fake timers: a test moves time on, it does not wait for it. */
function onFakeTimers() {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });
}
const advance = (ms: number) => vi.advanceTimersByTimeAsync(ms);

describe('progress reporter', () => {
  onFakeTimers();

  it('ignores the request that was running when ours was sent and reports ours', async () => {
    const writes: CurrentProgress[] = [];
    const reporter = startProgressReporter({
      sd: scriptedHost([
        busy('20261124100000', 4),
        busy('20261124100000', 8),
        busy('20261124100007', 1),
        busy('20261124100007', 5),
      ]),
      iteration: 3,
      write: async (c) => {
        writes.push(c);
      },
      now: () => new Date(),
      pollMs: 1,
      writeEveryMs: 0,
    });
    await reporter.ready;
    reporter.sent();
    await advance(50);
    await reporter.stop();
    // Its pace is written once two polls of ours measured it (the other request's 4 -> 8 never).
    expect(writes[0]).toMatchObject({ iteration: 3, step: 5, steps: 10, steps_per_second: 4000 });
    expect(writes.every((w) => w.iteration === 3 && w.step === 5)).toBe(true);
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
        return {
          progress: 0.1,
          // Ever faster: every poll is off the pace written, and only the throttle holds writes back.
          step: calls * calls,
          steps: 10_000,
          jobTimestamp: calls === 1 ? null : 'ours',
          interrupted: false,
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
    await reporter.ready;
    reporter.sent();
    await advance(50);
    await reporter.stop();
    expect(calls).toBeGreaterThan(4);
    expect(writes).toHaveLength(1);
  });
});

/** A reporter for iteration 0 whose writes go nowhere: for tests of when it polls. */
const silentReporter = (sd: SdWebUi, extra: Partial<Parameters<typeof startProgressReporter>[0]> = {}) =>
  startProgressReporter({
    sd,
    iteration: 0,
    write: async () => {},
    now: () => new Date(),
    pollMs: 1,
    writeEveryMs: 0,
    ...extra,
  });

describe('progress reporter observation', () => {
  onFakeTimers();

  it('hands every answered poll to observe, with when it was sent and answered', async () => {
    const seen: Array<{ sentAt: number; receivedAt: number; jobTimestamp: string | null }> = [];
    const before = Date.now();
    const host = scriptedHost([
      { progress: 0, step: 0, steps: 0, jobTimestamp: null, interrupted: false },
      busy('20261124100007', 2),
    ]);
    const reporter = silentReporter(host, {
      observe: (poll) =>
        seen.push({
          sentAt: poll.sentAt,
          receivedAt: poll.receivedAt,
          jobTimestamp: poll.progress.jobTimestamp,
        }),
    });
    await reporter.ready;
    reporter.sent();
    await advance(30);
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
  onFakeTimers();

  it('is ready only once the first poll has answered, so our request is sent after it', async () => {
    let answer: (p: SdProgress) => void = () => {};
    const host = scriptedHost([]);
    host.progress = () =>
      new Promise<SdProgress>((resolve) => {
        answer = resolve;
      });
    const reporter = silentReporter(host);
    reporter.sent();
    let ready = false;
    void reporter.ready.then(() => {
      ready = true;
    });
    await advance(20);
    expect(ready).toBe(false);
    answer(busy('20261124100000', 1));
    await advance(5);
    expect(ready).toBe(true);
    answer(busy('20261124100000', 2));
    await reporter.stop();
  });
});

describe('progress reporter pace', () => {
  onFakeTimers();

  it('looks for our request briskly as soon as the runner’s next call waits on it', async () => {
    let polls = 0;
    const host = scriptedHost([]);
    host.progress = async () => {
      polls++;
      return {
        progress: 0,
        step: 0,
        steps: 0,
        jobTimestamp: null,
        interrupted: false,
        lastJobTimestamp: 'A',
      };
    };
    const call = new HostCall();
    const reporter = silentReporter(host, { pollMs: 10_000, call });
    await reporter.ready;
    reporter.sent();
    await advance(1_000);
    expect(polls).toBe(1);
    // The next call waits: the 10 s pause is cut short, and polls come every 50 ms until ours shows.
    call.follow();
    await advance(120);
    expect(polls).toBeGreaterThanOrEqual(3);
    await reporter.stop();
  });
});

/** A host that plays the answers in order and says when it has played them all. */
function playedHost(answers: SdProgress[]) {
  let i = 0;
  let played: () => void = () => {};
  const drained = new Promise<void>((resolve) => {
    played = resolve;
  });
  const interrupts: number[] = [];
  const host: SdWebUi = {
    ...scriptedHost([]),
    progress: async () => {
      // The answer after the last one is asked for only once the last one was dealt with.
      if (i >= answers.length) played();
      return answers[Math.min(i++, answers.length - 1)] as SdProgress;
    },
    interrupt: async () => {
      interrupts.push(i - 1);
    },
  };
  return { host, drained, interrupts };
}

const at = (jobTimestamp: string, step: number, steps = 10, interrupted = false): SdProgress => ({
  progress: step / steps,
  step,
  steps,
  jobTimestamp,
  interrupted,
});
const idleAfter = (last: string, interrupted = false): SdProgress => ({
  progress: 0,
  step: 0,
  steps: 0,
  jobTimestamp: null,
  interrupted,
  lastJobTimestamp: last,
});

async function reporterOn(
  host: SdWebUi,
  extra: Partial<Parameters<typeof startProgressReporter>[0]> = {},
  previous?: HostCall,
) {
  const writes: Array<[number, number, number]> = [];
  let polled = 0;
  const reporter = startProgressReporter({
    sd: host,
    iteration: 1,
    write: async (c) => {
      writes.push([c.iteration, c.step, c.steps]);
    },
    // A second a poll: two sightings of a request measure its pace.
    now: () => {
      polled += 1_000;
      return new Date(Date.parse('2026-11-27T10:00:00Z') + polled);
    },
    pollMs: 1,
    writeEveryMs: 0,
    ...extra,
  });
  // Our request goes out once the first poll has answered, as generateIteration sends it.
  await reporter.ready;
  reporter.sent(previous);
  return { reporter, writes };
}

/** The runner's previous call to the host: seen running as `run`, and answered if `done`. */
function callOf(run: string, done = false) {
  const call = new HostCall();
  if (done) call.end(run);
  else call.seen(run);
  return call;
}

describe('progress reporter: which request is ours', () => {
  it('takes no pace until the sampler has made a step (SD WebUI still shows the last count)', async () => {
    const { host, drained } = playedHost([idleAfter('A'), at('B', 0, 20), at('B', 1, 10), at('B', 5, 10)]);
    const { reporter, writes } = await reporterOn(host);
    await drained;
    await reporter.stop();
    expect(writes).toEqual([[1, 5, 10]]);
  });

  it('locks onto our request: the one after it is somebody else’s, never shown or interrupted', async () => {
    const { host, drained, interrupts } = playedHost([
      idleAfter('A'),
      at('B', 1),
      at('B', 5),
      at('C', 2),
      at('C', 6),
    ]);
    const { reporter, writes } = await reporterOn(host, {
      isCancelled: async () => true,
      cancelCheckMs: 0,
    });
    await drained;
    const outcome = await reporter.stop();
    expect(writes).toEqual([[1, 5, 10]]);
    expect(outcome.ours).toBe('B');
    expect(interrupts).toEqual([1]); // B only, once
  });

  it('leaves the request of the runner’s previous call to that host to it, and takes the next', async () => {
    // B: the previous call's, as its own reporter saw (its answer has not come yet).
    const previous = callOf('B');
    const { host, drained } = playedHost([idleAfter('A'), at('B', 2), at('B', 5), at('C', 1), at('C', 5)]);
    const { reporter, writes } = await reporterOn(host, {}, previous);
    await drained;
    const outcome = await reporter.stop();
    expect(outcome.ours).toBe('C');
    expect(writes).toEqual([[1, 5, 10]]);
  });

  it('takes no request for ours before ours is sent: whatever runs until then is somebody else’s', async () => {
    const { host, drained, interrupts } = playedHost([idleAfter('A'), at('B', 2), at('C', 1)]);
    const reporter = startProgressReporter({
      sd: host,
      iteration: 1,
      write: async () => {
        throw new Error('nothing is ours to show');
      },
      now: () => new Date('2026-11-27T10:00:00Z'),
      pollMs: 1,
      writeEveryMs: 0,
      isCancelled: async () => true,
      cancelCheckMs: 0,
    });
    await drained;
    expect((await reporter.stop()).ours).toBeUndefined();
    expect(interrupts).toEqual([]);
  });

  it('waits while the previous call has shown nothing: the first new request is that call’s', async () => {
    const previous = new HostCall();
    const { host, drained } = playedHost([idleAfter('A'), at('B', 2), at('C', 1)]);
    const { reporter, writes } = await reporterOn(host, {}, previous);
    await drained;
    expect((await reporter.stop()).ours).toBeUndefined();
    expect(writes).toEqual([]);
  });

  it('takes the new request for ours once the previous call is done, even in the same second', async () => {
    const previous = callOf('B', true);
    const { host, drained } = playedHost([at('B', 9), at('B', 1)]);
    const { reporter } = await reporterOn(host, {}, previous);
    await drained;
    expect((await reporter.stop()).ours).toBe('B');
  });

  it('interrupts a cancelled job’s queued request as soon as it samples, from a cancel another call saw', async () => {
    const cancel = { cancelled: true };
    const { host, drained, interrupts } = playedHost([at('A', 3), at('A', 4), at('B', 0)]);
    const { reporter } = await reporterOn(host, { cancel, isCancelled: async () => false });
    await drained;
    expect((await reporter.stop()).interruptedByUs).toBe(true);
    expect(interrupts).toEqual([2]);
  });

  it('notices our request was interrupted by someone else, while it ran or once idle', async () => {
    const running = playedHost([idleAfter('A'), at('B', 2), at('B', 3, 10, true)]);
    const seen = await reporterOn(running.host);
    await running.drained;
    expect(await seen.reporter.stop()).toMatchObject({ sawInterrupted: true, interruptedByUs: false });

    const afterwards = playedHost([idleAfter('A'), at('B', 2), idleAfter('B', true)]);
    const late = await reporterOn(afterwards.host);
    await afterwards.drained;
    expect((await late.reporter.stop()).sawInterrupted).toBe(true);

    const clean = playedHost([idleAfter('A'), at('B', 2), idleAfter('B')]);
    const fine = await reporterOn(clean.host);
    await clean.drained;
    expect((await fine.reporter.stop()).sawInterrupted).toBe(false);
  });
});

describe('a request a tunnel gave up on', () => {
  onFakeTimers();

  const idle = (last: string): SdProgress => ({
    progress: 0,
    step: 0,
    steps: 0,
    jobTimestamp: null,
    interrupted: true,
    lastJobTimestamp: last,
  });

  it('is interrupted only once the polls show it running, and clears when the host is idle', async () => {
    const interrupts: string[] = [];
    const answers = [
      busy('20261207100000', 3), // somebody else's, before ours was sent
      busy('20261207100000', 6),
      busy('20261207100009', 1), // ours
      busy('20261207100009', 2),
      idle('20261207100009'),
    ];
    let i = 0;
    const sd: SdWebUi = {
      ...scriptedHost([]),
      progress: async () => answers[Math.min(i++, answers.length - 1)] as SdProgress,
      interrupt: async () => {
        interrupts.push((answers[i - 1] as SdProgress).jobTimestamp ?? 'idle');
      },
    };
    const reporter = startProgressReporter({
      sd,
      iteration: 0,
      write: async () => {},
      now: () => new Date(),
      pollMs: 10,
      writeEveryMs: 0,
    });
    await reporter.ready;
    reporter.sent();
    let cleared: boolean | undefined;
    void reporter.abandon(new AbortController().signal).then((idle) => {
      cleared = idle;
    });
    // The abandon asks at once: somebody else's request still runs, and is not interrupted.
    await advance(5);
    expect(interrupts).toEqual([]);
    expect(cleared).toBeUndefined();
    await advance(50);
    expect(interrupts).toEqual(['20261207100009']);
    expect(cleared).toBe(true);
    await reporter.stop();
  });

  it('gives up waiting for the host when its signal aborts', async () => {
    const reporter = startProgressReporter({
      sd: scriptedHost([busy('20261207100000', 3)]),
      iteration: 0,
      write: async () => {},
      now: () => new Date(),
      pollMs: 10,
      writeEveryMs: 0,
    });
    await reporter.ready;
    reporter.sent();
    const giveUp = new AbortController();
    const cleared = reporter.abandon(giveUp.signal);
    await advance(100);
    giveUp.abort();
    expect(await cleared).toBe(false);
    await reporter.stop();
  });
});
