import { describe, expect, it } from 'vitest';
import type { RateSample } from '../../../core/estimate.ts';
import type { Lease } from '../../../core/pool/host-pool.ts';
import { LeaseBook } from '../../../core/workflow/lease-book.ts';

const lease = (slot: number): Lease => ({
  hostId: 'h',
  slot,
  holder: `job_x#${slot}`,
  jobId: 'job_x',
  until: 0,
});

function bookOnPool() {
  const released: Array<[number, RateSample | undefined]> = [];
  const book = new LeaseBook({
    release: async (l, measured) => {
      released.push([l.slot, measured]);
    },
  });
  return { book, released };
}

describe('lease book', () => {
  it('hands out the lease put back last, each once', () => {
    const { book } = bookOnPool();
    expect(book.take()).toBeUndefined();
    book.put({ lease: lease(0) });
    book.put({ lease: lease(1) });
    expect(book.size).toBe(2);
    expect(book.take()?.lease.slot).toBe(1);
    expect(book.take()?.lease.slot).toBe(0);
    expect(book.take()).toBeUndefined();
  });

  it('releases every spare lease with what its call measured, and is empty after', async () => {
    const { book, released } = bookOnPool();
    const measured: RateSample = { key: 'p-4', secondsPerUnit: 0.5 };
    book.put({ lease: lease(0), measured });
    book.put({ lease: lease(1) });
    await book.releaseAll();
    expect(released).toEqual([
      [0, measured],
      [1, undefined],
    ]);
    expect(book.size).toBe(0);
    await book.releaseAll();
    expect(released).toHaveLength(2);
  });
});
