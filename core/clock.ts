/**
 * Time as the core sees it: a dependency, so tests drive races with fake timers or a manual clock
 * instead of sleeping.
 */
export interface Clock {
  /** Epoch ms. */
  now(): number;
  /** Settles after `ms` (at once for ms <= 0), or as soon as `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Calls `tick` every `ms` until the returned stop is called; never keeps the process alive. */
  every(ms: number, tick: () => void): () => void;
}

/** The clock of the process: Date.now and the global timers, looked up at each call. */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) => {
    // The abort may already have fired (a stop during a poll): it must not be waited for.
    if (signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      signal?.addEventListener('abort', done, { once: true });
    });
  },
  every: (ms, tick) => {
    const timer = setInterval(tick, ms);
    timer.unref?.();
    return () => clearInterval(timer);
  },
};
