import { describe, expect, it } from 'vitest';
import {
  ADMISSION_RUNNER,
  contenders as contendersAt,
  freedSlotGoesTo,
  planWakes,
  REGISTER_GRACE_MS,
  WAKE_GRACE_MS,
  type Waiter,
  waiterState,
} from '../../../core/pool/waiters.ts';

const NOW = 5_000_000;
/** Claims placed at one ms per unit of work. */
const place = (c: { createdAt: number; work: number }) => ({ prio: c.createdAt + c.work, workMs: c.work });
const contenders = (held: Parameters<typeof contendersAt>[0], waiters: Waiter[], now: number) =>
  contendersAt(held, waiters, now, place);
const w = (jobId: string, prio: number, extra: Partial<Waiter> = {}): Waiter => ({
  jobId,
  runner: 0,
  createdAt: 0,
  work: prio,
  rateKey: 'p0',
  want: 2,
  since: NOW - 1000,
  askUntil: NOW + 59_000,
  token: `t-${jobId}-${extra.runner ?? 0}`,
  ...extra,
});

describe('a waiter’s state', () => {
  it('goes from registering to waiting to woken, and is lost or stale when nothing follows', () => {
    expect(waiterState(w('j', 1, { token: undefined }), NOW)).toBe('asking');
    // Refused long ago, but asked again lately (a runner with calls in flight): still asking.
    expect(waiterState(w('j', 1, { token: undefined, since: NOW - 10 * REGISTER_GRACE_MS }), NOW)).toBe(
      'asking',
    );
    expect(waiterState(w('j', 1, { token: undefined, askUntil: NOW }), NOW)).toBe('stale');
    expect(waiterState(w('j', 1), NOW)).toBe('waiting');
    expect(waiterState(w('j', 1, { wokenAt: NOW - 10 }), NOW)).toBe('woken');
    expect(waiterState(w('j', 1, { wokenAt: NOW - WAKE_GRACE_MS }), NOW)).toBe('lost');
  });
});

describe('planWakes', () => {
  it('gives free slots down the line, a runner woken per two slots', () => {
    const line = contenders(
      [],
      [w('late', 900), w('early', 100), w('early', 100, { runner: 1, since: NOW - 500 }), w('mid', 500)],
      NOW,
    );
    // early wants 2 (its runners claim the job's want, not one each): one runner fills both.
    expect(planWakes(line, 1).map((x) => [x.jobId, x.runner])).toEqual([['early', 0]]);
    expect(planWakes(line, 3).map((x) => x.jobId)).toEqual(['early', 'mid']);
    expect(planWakes(line, 9).map((x) => x.jobId)).toEqual(['early', 'mid', 'late']);
  });

  it('lets a running job that asks for more take its share without a wake-up', () => {
    const run = { jobId: 'run', claim: { jobId: 'run', createdAt: 0, work: 50, rateKey: 'p0', want: 2 } };
    // Its runner was refused a second slot: it asks, and goes first.
    const asking = contenders([run], [w('waits', 100), w('run', 50, { token: undefined })], NOW);
    expect(planWakes(asking, 1)).toEqual([]);
    expect(planWakes(asking, 2).map((x) => x.jobId)).toEqual(['waits']);
    // A running job that stopped asking (near its end) keeps no room: the slot goes to the waiter.
    const done = contenders([run], [w('waits', 100)], NOW);
    expect(done.find((c) => c.jobId === 'run')?.unmet).toBe(0);
    expect(planWakes(done, 1).map((x) => x.jobId)).toEqual(['waits']);
  });

  it('does not wake a runner twice while it comes back, but wakes again one whose wake-up was lost', () => {
    expect(planWakes(contenders([], [w('j', 1, { wokenAt: NOW - 5 })], NOW), 2)).toEqual([]);
    expect(planWakes(contenders([], [w('j', 1, { wokenAt: NOW - WAKE_GRACE_MS - 1 })], NOW), 2)).toHaveLength(
      1,
    );
    // A runner still on its way to its Wait state claims its slot but cannot be woken yet.
    expect(planWakes(contenders([], [w('j', 1, { token: undefined }), w('k', 2)], NOW), 2)).toEqual([]);
  });
});

describe('a slot just let go', () => {
  const admission = (jobId: string, prio: number, extra: Partial<Waiter> = {}) =>
    w(jobId, prio, { runner: ADMISSION_RUNNER, ...extra });
  const goesTo = (line: Waiter[], released = 'r') => freedSlotGoesTo(line, released, NOW, place);

  it('admits the job first in line to it when that job waits for admission, from the line alone', () => {
    const first = admission('a', 100);
    expect(goesTo([admission('b', 200), first])).toEqual({ wake: first });
    // Nobody to wake (a job admitted a moment ago is on its way): nothing to do.
    expect(goesTo([])).toEqual({ none: true });
    expect(goesTo([admission('a', 100, { wokenAt: NOW - 10 })])).toEqual({ none: true });
  });

  it('leaves to the full sweep whatever needs what jobs hold, or clearing up', () => {
    // A running job's refused runner is first: its share depends on the slots it holds.
    expect(goesTo([w('run', 50), admission('a', 100)])).toEqual({ sweep: true });
    // A job admitted a moment ago, its runners on their way, is first.
    expect(goesTo([admission('x', 50, { wokenAt: NOW - 10 }), admission('a', 100)])).toEqual({
      sweep: true,
    });
    // A stale place to forget, or the releasing job's own runner waiting.
    expect(goesTo([w('gone', 50, { token: undefined, askUntil: NOW }), admission('a', 100)])).toEqual({
      sweep: true,
    });
    expect(goesTo([w('r', 500), admission('a', 100)])).toEqual({ sweep: true });
  });

  it('does not count the releasing job’s own places ahead', () => {
    const a = admission('a', 100);
    expect(goesTo([w('r', 50, { token: undefined }), a])).toEqual({ wake: a });
  });
});
