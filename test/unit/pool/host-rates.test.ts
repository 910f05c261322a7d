import { describe, expect, it } from 'vitest';
import { hostRatesOf, type PoolSnapshot, REST_MS } from '../../../core/pool/host-pool.ts';

const NOW = 1_000_000;
const snapshot: PoolSnapshot = {
  slots: [
    { hostId: 'a', slot: 0, rates: { p0: 1, p2: 3 }, ratedAt: 10 },
    { hostId: 'a', slot: 1, rates: { p0: 2 }, ratedAt: 20, holder: 'j#1', jobId: 'j', leaseUntil: NOW + 1 },
    { hostId: 'b', slot: 0 },
    // A slot beyond the configured depth: left over from an older configuration.
    { hostId: 'b', slot: 5, rates: { p0: 100 }, ratedAt: 30 },
    { hostId: 'gone', slot: 0, rates: { p0: 9 }, ratedAt: 40 },
  ],
  health: [{ hostId: 'b', failures: 3, unhealthyUntil: NOW + REST_MS }],
  waiters: [],
};

describe('host rates', () => {
  it("averages each configured host's slots by class, with its health and latest measurement", () => {
    const hosts = [
      { id: 'a', depth: 2 },
      { id: 'b', depth: 2 },
    ];
    expect(hostRatesOf(hosts, snapshot, NOW)).toEqual([
      { hostId: 'a', healthy: true, measuredAt: 20, rates: { p0: 1.5, p2: 3 } },
      { hostId: 'b', healthy: false, measuredAt: 0, rates: {} },
    ]);
  });

  it('without configured hosts (the gateway knows only their number), lists every host on record', () => {
    expect(hostRatesOf([], snapshot, NOW).map((h) => [h.hostId, h.rates.p0])).toEqual([
      ['a', 1.5],
      ['b', 100],
      ['gone', 9],
    ]);
  });
});
