import { describe, expect, it } from 'vitest';
import {
  chooseSlot as choose,
  FAILURES_BEFORE_REST,
  type HostSpec,
  nextHealth,
  type PoolSnapshot,
  placerFor,
  REST_MS,
  type SlotAsk,
} from '../../../core/pool/host-pool.ts';
import {
  type JobClaim,
  type Placer,
  PREEMPT_MARGIN_MS,
  preemptMargin,
  type Waiter,
} from '../../../core/pool/waiters.ts';

const hosts: HostSpec[] = [
  { id: 'a', depth: 2 },
  { id: 'b', depth: 2 },
];
const empty: PoolSnapshot = { slots: [], health: [], waiters: [] };
const NOW = 1_000_000;
/** Claims placed at one ms per unit of work: a claim's place is its work (all created at 0). */
const place: Placer = (c) => ({ prio: c.createdAt + c.work, workMs: c.work });
const claim = (jobId: string, prio: number, want = 2): JobClaim => ({
  jobId,
  createdAt: 0,
  work: prio,
  rateKey: 'p0',
  want,
});
/** A live lease of `jobId`, which claimed place `prio` and 4 slots when it took it. */
const held = (hostId: string, slot: number, jobId: string, prio = 500_000, leaseUntil = NOW + 60_000) => ({
  hostId,
  slot,
  jobId,
  holder: `${jobId}#${hostId}${slot}`,
  leaseUntil,
  claim: claim(jobId, prio, 4),
});
const waiter = (jobId: string, prio: number, extra: Partial<Waiter> = {}): Waiter => ({
  ...claim(jobId, prio),
  runner: 0,
  since: NOW - 1000,
  askUntil: NOW + 59_000,
  token: `token-${jobId}`,
  ...extra,
});
const ask = (jobId: string, prio: number, extra: Partial<SlotAsk> = {}): SlotAsk => ({
  claim: claim(jobId, prio),
  holder: `${jobId}#new`,
  runner: 0,
  ...extra,
});
const chooseSlot = (h: HostSpec[], snapshot: PoolSnapshot, a: SlotAsk, now: number) =>
  choose(h, snapshot, a, now, place);

describe('chooseSlot', () => {
  it('spreads work to the least loaded healthy host', () => {
    const oneOnA = { ...empty, slots: [held('a', 0, 'j1')] };
    const choice = chooseSlot(hosts, oneOnA, ask('j1', 500_000), NOW);
    // b is idle, so both of its slots come before a's last free one.
    expect(choice).toMatchObject({ hostId: 'b' });
    expect('alternatives' in choice && choice.alternatives.at(-1)).toEqual({ hostId: 'a', slot: 1 });
  });

  it('keeps an iteration off the hosts that failed it while another host is healthy', () => {
    const choice = chooseSlot(hosts, empty, ask('j', 1, { avoidHosts: ['a'] }), NOW);
    expect(choice).toMatchObject({ hostId: 'b' });
    expect('alternatives' in choice && choice.alternatives.map((s) => s.hostId)).toEqual(['b']);
    // b is busy: the iteration waits for it rather than taking a's free slots.
    const bBusy = { ...empty, slots: [held('b', 0, 'x'), held('b', 1, 'x')] };
    expect(chooseSlot(hosts, bBusy, ask('x', 500_000, { avoidHosts: ['a'] }), NOW)).toEqual({
      wait: 'every slot of every healthy GPU host is busy',
    });
    // b rests, or failed it too: a is all there is.
    const bResting = { ...empty, health: [{ hostId: 'b', failures: 3, unhealthyUntil: NOW + 1 }] };
    expect(chooseSlot(hosts, bResting, ask('x', 500_000, { avoidHosts: ['a'] }), NOW)).toMatchObject({
      hostId: 'a',
    });
    const both = chooseSlot(hosts, bBusy, ask('x', 500_000, { avoidHosts: ['a', 'b'] }), NOW);
    expect(both).toMatchObject({ hostId: 'a' });
  });

  it('waits when every slot is live, and reuses a slot whose lease expired', () => {
    const full = {
      ...empty,
      slots: [held('a', 0, 'x'), held('a', 1, 'x'), held('b', 0, 'x'), held('b', 1, 'x')],
    };
    expect(chooseSlot(hosts, full, ask('x', 500_000), NOW)).toEqual({
      wait: 'every slot of every healthy GPU host is busy',
    });
    const expired = { ...full, slots: [...full.slots.slice(0, 3), held('b', 1, 'x', 500_000, NOW - 1)] };
    expect(chooseSlot(hosts, expired, ask('x', 500_000), NOW)).toEqual({
      hostId: 'b',
      slot: 1,
      alternatives: [],
    });
  });

  it('grants one live lease per holder: an iteration already running is not made twice', () => {
    const running = { ...empty, slots: [held('a', 0, 'j1')] };
    expect(chooseSlot(hosts, running, { ...ask('j1', 1), holder: 'j1#a0' }, NOW)).toEqual({
      wait: 'j1#a0 is already running on a',
      running: true,
    });
    // A lapsed lease (its worker died) no longer counts.
    const lapsed = { ...empty, slots: [held('a', 0, 'j1', 1, NOW - 1)] };
    expect(chooseSlot(hosts, lapsed, { ...ask('j1', 1), holder: 'j1#a0' }, NOW)).toHaveProperty('hostId');
  });

  it('keeps free slots for the waiting jobs ahead in line, as many as they can use', () => {
    // One free slot; the small job waiting is ahead of the big one asking: it keeps the slot.
    const oneFree = {
      slots: [held('a', 0, 'big'), held('a', 1, 'big'), held('b', 0, 'big')],
      health: [],
      waiters: [waiter('small', 100_000)],
    };
    expect(chooseSlot(hosts, oneFree, ask('big', 500_000, { continuing: true }), NOW)).toEqual({
      wait: 'another job (small) is ahead in the queue',
      ahead: 'small',
    });
    expect(chooseSlot(hosts, oneFree, ask('small', 100_000), NOW)).toEqual({
      hostId: 'b',
      slot: 1,
      alternatives: [],
    });
    // With more free slots than the small job can use (2), the big one gets the rest.
    const threeFree = { ...oneFree, slots: [held('a', 0, 'big')] };
    expect(chooseSlot(hosts, threeFree, ask('big', 500_000, { continuing: true }), NOW)).toHaveProperty(
      'hostId',
    );
  });

  it('lets a running job keep its slots unless a waiter is ahead by more than the margin', () => {
    // An hour of work left: the margin is its cap, a minute; with 40 s left, a quarter of that.
    expect(preemptMargin(3_600_000)).toBe(PREEMPT_MARGIN_MS);
    expect(preemptMargin(40_000)).toBe(10_000);
    const snapshot = (waiterPrio: number) => ({
      slots: [held('a', 0, 'run'), held('a', 1, 'run'), held('b', 0, 'run'), held('b', 1, 'run')],
      health: [],
      waiters: [waiter('w', waiterPrio)],
    });
    const handOver = ask('run', 500_000, { continuing: true });
    // The hand-over frees its own slot: the view a pool decides on has one free.
    const view = (s: PoolSnapshot) => ({ ...s, slots: s.slots.slice(1) });
    expect(chooseSlot(hosts, view(snapshot(500_000 - PREEMPT_MARGIN_MS + 1)), handOver, NOW)).toHaveProperty(
      'hostId',
    );
    expect(chooseSlot(hosts, view(snapshot(500_000 - PREEMPT_MARGIN_MS - 1)), handOver, NOW)).toMatchObject({
      ahead: 'w',
    });
  });

  it('gives a free slot to the running job ahead in line, not to the running job behind it', () => {
    // Two jobs that started together hold a slot each, and the one ahead asked for a second: it
    // gets the next slot freed.
    const split = {
      ...empty,
      slots: [held('a', 0, 'ahead', 400_000), held('b', 0, 'behind', 400_001)],
      waiters: [waiter('ahead', 400_000, { token: undefined, askUntil: NOW + 50_000 })],
    };
    const oneHost: HostSpec[] = [
      { id: 'a', depth: 2 },
      { id: 'b', depth: 1 },
    ];
    expect(chooseSlot(oneHost, split, ask('behind', 400_001, { continuing: true }), NOW)).toMatchObject({
      ahead: 'ahead',
    });
    expect(chooseSlot(oneHost, split, ask('ahead', 400_000, { continuing: true }), NOW)).toHaveProperty(
      'hostId',
    );
  });

  it('orders jobs by place in line, then by who waited first; a runner that never registered is forgotten', () => {
    const snapshot = {
      slots: [],
      health: [],
      waiters: [
        waiter('first', 300_000, { since: NOW - 5000 }),
        waiter('second', 300_000, { since: NOW - 1000, runner: 0 }),
      ],
    };
    const full = (s: PoolSnapshot) => ({
      ...s,
      slots: [held('a', 0, 'x'), held('a', 1, 'x'), held('b', 0, 'x')],
    });
    expect(chooseSlot(hosts, full(snapshot), ask('second', 300_000), NOW)).toMatchObject({ ahead: 'first' });
    expect(chooseSlot(hosts, full(snapshot), ask('first', 300_000), NOW)).toHaveProperty('hostId');
    // Refused a minute ago and never reached its Wait state: its runner is gone.
    const stale = { ...empty, waiters: [waiter('gone', 1, { token: undefined, askUntil: NOW - 1_000 })] };
    expect(chooseSlot(hosts, full(stale), ask('x', 500_000), NOW)).toHaveProperty('hostId');
  });

  it('takes a resting host out of rotation, and says until when every host rests', () => {
    const aResting = { ...empty, health: [{ hostId: 'a', failures: 3, unhealthyUntil: NOW + 1000 }] };
    const whileResting = chooseSlot(hosts, aResting, ask('j', 1), NOW);
    expect(whileResting).toMatchObject({ hostId: 'b' });
    expect('alternatives' in whileResting && whileResting.alternatives.map((s) => s.hostId)).toEqual(['b']);
    const rested = chooseSlot(hosts, aResting, ask('j', 1), NOW + 1000);
    expect('alternatives' in rested && rested.alternatives.length).toBe(3);
    const allResting = {
      ...aResting,
      health: [...aResting.health, { hostId: 'b', failures: 3, unhealthyUntil: NOW + 1 }],
    };
    expect(chooseSlot(hosts, allResting, ask('j', 1), NOW)).toEqual({
      wait: expect.stringMatching(/resting/),
      restingUntil: NOW + 1,
    });
  });
});

describe('a job’s place in line', () => {
  it('is its creation time plus the GPU time its unfinished work needs, at the pool’s measured rates', () => {
    const rated = {
      ...empty,
      slots: [
        { hostId: 'a', slot: 0, rates: { p0: 2 } },
        { hostId: 'b', slot: 0, rates: { p0: 4 } },
      ],
    };
    const job = { jobId: 'j', createdAt: 1000, work: 10, rateKey: 'p0', want: 2 };
    // Measured: 3 s per unit on average over the pool's slots.
    expect(placerFor(rated, { secondsPerStep: 0.05 })(job)).toEqual({ prio: 1000 + 30_000, workMs: 30_000 });
    // Not measured yet: the calibration, here a second per unit.
    expect(placerFor(empty, { secondsPerStep: 0.262144 })(job)).toEqual({
      prio: 1000 + 10_000,
      workMs: 10_000,
    });
  });
});

describe('host health', () => {
  it('rests a host after repeated failures and clears on success', () => {
    let health = nextHealth(undefined, 'a', false, NOW);
    for (let i = 1; i < FAILURES_BEFORE_REST; i++) {
      expect(health.unhealthyUntil).toBeUndefined();
      health = nextHealth(health, 'a', false, NOW);
    }
    expect(health).toEqual({
      hostId: 'a',
      failures: FAILURES_BEFORE_REST,
      unhealthyUntil: NOW + REST_MS,
      failingSince: NOW,
    });
    expect(nextHealth(health, 'a', true, NOW)).toEqual({ hostId: 'a', failures: 0 });
  });
});
