import { describe, expect, it } from 'vitest';
import type { HostHealth, HostSpec } from '../../../core/pool/host-pool.ts';
import { nextHealth } from '../../../core/pool/host-pool.ts';
import { giveUpAt, OUTAGE_MS, outageFailure, poolOutage } from '../../../core/pool/outage.ts';

const T = Date.parse('2026-12-07T20:00:00.000Z');
const hosts: HostSpec[] = [
  { id: 'a', depth: 2 },
  { id: 'b', depth: 2 },
];
const failing = (hostId: string, since: number, lastError = `${hostId} answered 500`): HostHealth => ({
  hostId,
  failures: 1,
  failingSince: since,
  lastError,
});

describe('the pool is in an outage', () => {
  it('only while every configured host has failed since its last success', () => {
    expect(poolOutage(hosts, [failing('a', T)])).toBeUndefined();
    expect(poolOutage(hosts, [failing('a', T), { hostId: 'b', failures: 0 }])).toBeUndefined();
    expect(poolOutage([], [])).toBeUndefined();
    expect(poolOutage(hosts, [failing('a', T), failing('b', T + 5_000)])).toEqual({
      since: T + 5_000,
      hosts: [
        { host_id: 'a', failing_since: T, last_error: 'a answered 500' },
        { host_id: 'b', failing_since: T + 5_000, last_error: 'b answered 500' },
      ],
    });
  });

  it('begins at a host’s first failure since its last success, and a success ends it', () => {
    const first = nextHealth(undefined, 'a', false, T, 30_000, 'refused');
    const second = nextHealth(first, 'a', false, T + 40_000, 30_000, 'reset');
    expect(second).toMatchObject({ failingSince: T, lastError: 'reset' });
    expect(poolOutage([{ id: 'a', depth: 2 }], [second])?.since).toBe(T);
    const ok = nextHealth(second, 'a', true, T + 50_000);
    expect(poolOutage([{ id: 'a', depth: 2 }], [ok])).toBeUndefined();
  });

  it('is given up on its bound after it began, or after the job began when that was later', () => {
    const outage = poolOutage(hosts, [failing('a', T), failing('b', T)]);
    if (!outage) throw new Error('an outage');
    expect(giveUpAt(outage, T - 60_000)).toBe(T + OUTAGE_MS);
    expect(giveUpAt(outage, T + 3_600_000)).toBe(T + 3_600_000 + OUTAGE_MS);
    expect(giveUpAt(outage, T, 5_000)).toBe(T + 5_000);
  });

  it('names each host with its last error in the failure it gives', () => {
    const outage = poolOutage(hosts, [failing('a', T), failing('b', T + 1_000)]);
    if (!outage) throw new Error('an outage');
    expect(outageFailure(outage, T + 125_000)).toBe(
      "no GPU host completed a call for 2m 04s, so the job's remaining iterations were not tried: " +
        'a failing since 20:00:00Z (2m 05s), last error: a answered 500; ' +
        'b failing since 20:00:01Z (2m 04s), last error: b answered 500',
    );
  });
});
