import { describe, expect, it } from 'vitest';
import { recentRead } from '../../../mcp-gateway/recent-read.ts';

/** A source whose n-th read answers n, or fails when told to. */
function countingSource() {
  const source = { reads: 0, failNext: false };
  const read = async () => {
    source.reads++;
    if (source.failNext) {
      source.failNext = false;
      throw new Error('pool unreachable');
    }
    return source.reads;
  };
  return { source, read };
}

describe('recentRead', () => {
  it('shares one read among callers until it is maxAge old, then reads again', async () => {
    let now = 1_000;
    const { source, read } = countingSource();
    const rates = recentRead(read, 2_000, () => now);
    expect(await Promise.all([rates(), rates(), rates()])).toEqual([1, 1, 1]);
    now += 1_999;
    expect(await rates()).toBe(1);
    now += 1;
    expect(await rates()).toBe(2);
    expect(source.reads).toBe(2);
  });

  it('does not keep a failed read: the next caller reads again', async () => {
    let now = 0;
    const { source, read } = countingSource();
    const rates = recentRead(read, 2_000, () => now);
    source.failNext = true;
    await expect(rates()).rejects.toThrow('pool unreachable');
    now += 1;
    expect(await rates()).toBe(2);
    expect(await rates()).toBe(2);
    expect(source.reads).toBe(2);
  });
});
