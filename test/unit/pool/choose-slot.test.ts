import { describe, expect, it } from 'vitest';
import {
  chooseSlot,
  FAILURES_BEFORE_REST,
  type HostSpec,
  nextHealth,
  type PoolSnapshot,
  REST_MS,
} from '../../../core/pool/host-pool.ts';

const hosts: HostSpec[] = [
  { id: 'a', depth: 2 },
  { id: 'b', depth: 2 },
];
const empty: PoolSnapshot = { slots: [], health: [], waiters: [] };
const NOW = 1_000_000;
const held = (hostId: string, slot: number, jobId: string, leaseUntil = NOW + 60_000) => ({
  hostId,
  slot,
  jobId,
  holder: `${jobId}#${hostId}${slot}`,
  leaseUntil,
});

describe('chooseSlot', () => {
  it('spreads work to the least loaded healthy host', () => {
    expect(chooseSlot(hosts, empty, 'j1', NOW)).toMatchObject({ alternatives: expect.arrayContaining([]) });
    const oneOnA = { ...empty, slots: [held('a', 0, 'j1')] };
    const choice = chooseSlot(hosts, oneOnA, 'j1', NOW);
    // b is idle, so both of its slots come before a's last free one.
    expect(choice).toMatchObject({ hostId: 'b' });
    expect('alternatives' in choice && choice.alternatives.at(-1)).toEqual({ hostId: 'a', slot: 1 });
  });

  it('waits when every slot is live, and reuses a slot whose lease expired', () => {
    const full = {
      ...empty,
      slots: [held('a', 0, 'x'), held('a', 1, 'x'), held('b', 0, 'x'), held('b', 1, 'x')],
    };
    expect(chooseSlot(hosts, full, 'x', NOW)).toHaveProperty('wait');
    const expired = { ...full, slots: [...full.slots.slice(0, 3), held('b', 1, 'x', NOW - 1)] };
    expect(chooseSlot(hosts, expired, 'x', NOW)).toEqual({ hostId: 'b', slot: 1, alternatives: [] });
  });

  it('grants one live lease per holder: an iteration already running is not made twice', () => {
    const running = { ...empty, slots: [held('a', 0, 'j1')] };
    expect(chooseSlot(hosts, running, 'j1', NOW, 'j1#a0')).toEqual({
      wait: 'j1#a0 is already running on a',
      running: true,
    });
    expect(chooseSlot(hosts, running, 'j1', NOW, 'j1#a1')).toHaveProperty('hostId');
    // A lapsed lease (its worker died) no longer counts.
    const lapsed = { ...empty, slots: [held('a', 0, 'j1', NOW - 1)] };
    expect(chooseSlot(hosts, lapsed, 'j1', NOW, 'j1#a0')).toHaveProperty('hostId');
  });

  it('gives a free slot to the waiting job that holds fewer slots, whatever the job sizes', () => {
    const bigHoldsThree = {
      slots: [held('a', 0, 'big'), held('a', 1, 'big'), held('b', 0, 'big')],
      health: [],
      waiters: [{ jobId: 'small', since: NOW - 500, seen: NOW - 100 }],
    };
    expect(chooseSlot(hosts, bigHoldsThree, 'big', NOW)).toHaveProperty('wait');
    expect(chooseSlot(hosts, bigHoldsThree, 'small', NOW)).toEqual({
      hostId: 'b',
      slot: 1,
      alternatives: [],
    });
  });

  it('breaks ties by who waited first, and forgets waiters that stopped asking', () => {
    const snapshot = {
      slots: [],
      health: [],
      waiters: [
        { jobId: 'first', since: NOW - 5000, seen: NOW - 10 },
        { jobId: 'second', since: NOW - 1000, seen: NOW - 10 },
      ],
    };
    expect(chooseSlot(hosts, snapshot, 'second', NOW)).toHaveProperty('wait');
    expect(chooseSlot(hosts, snapshot, 'first', NOW)).toHaveProperty('hostId');
    const stale = { ...snapshot, waiters: [{ jobId: 'gone', since: NOW - 60_000, seen: NOW - 60_000 }] };
    expect(chooseSlot(hosts, stale, 'x', NOW)).toHaveProperty('hostId');
  });

  it('takes a resting host out of rotation and gives its slots to the others', () => {
    const aResting = { ...empty, health: [{ hostId: 'a', failures: 3, unhealthyUntil: NOW + 1000 }] };
    const whileResting = chooseSlot(hosts, aResting, 'j', NOW);
    expect(whileResting).toMatchObject({ hostId: 'b' });
    expect('alternatives' in whileResting && whileResting.alternatives.map((s) => s.hostId)).toEqual(['b']);
    const rested = chooseSlot(hosts, aResting, 'j', NOW + 1000);
    expect('alternatives' in rested && rested.alternatives.length).toBe(3);
    const allResting = {
      ...aResting,
      health: [...aResting.health, { hostId: 'b', failures: 3, unhealthyUntil: NOW + 1 }],
    };
    expect(chooseSlot(hosts, allResting, 'j', NOW)).toEqual({ wait: expect.stringMatching(/resting/) });
  });
});

describe('host health', () => {
  it('rests a host after repeated failures and clears on success', () => {
    let health = nextHealth(undefined, 'a', false, NOW);
    for (let i = 1; i < FAILURES_BEFORE_REST; i++) {
      expect(health.unhealthyUntil).toBeUndefined();
      health = nextHealth(health, 'a', false, NOW);
    }
    expect(health).toEqual({ hostId: 'a', failures: FAILURES_BEFORE_REST, unhealthyUntil: NOW + REST_MS });
    expect(nextHealth(health, 'a', true, NOW)).toEqual({ hostId: 'a', failures: 0 });
  });
});
