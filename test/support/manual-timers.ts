import type { Timers } from '../../local/step-functions/task-tokens.ts';

/**
 * Timers the test fires by hand, with a clock that moves when they fire: a heartbeat lapses or a
 * function times out when the test says so, not after a sleep.
 */
export function manualTimers() {
  const pending = new Map<number, { run: () => void; ms: number }>();
  let next = 0;
  let clock = 1_000_000;
  const timers: Timers = {
    set: (run, ms) => {
      pending.set(++next, { run, ms });
      return next;
    },
    clear: (handle) => pending.delete(handle as number),
  };
  /** Runs every pending timer of `ms`, the clock moved on by that much. */
  const fire = (ms: number) => {
    clock += ms;
    for (const [id, timer] of [...pending]) {
      if (timer.ms === ms) {
        pending.delete(id);
        timer.run();
      }
    }
  };
  return { timers, fire, pending, now: () => clock };
}
