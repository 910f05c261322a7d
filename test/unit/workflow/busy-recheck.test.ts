import { describe, expect, it } from 'vitest';
import { busyRecheckMs } from '../../../core/workflow/generate-run.ts';

describe("a runner's asks for its second slot while every slot is busy", () => {
  it('wait twice as long each time, up to a second: a few reads of the pool per call, not one per 50 ms', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 20].map(busyRecheckMs)).toEqual([50, 100, 200, 400, 800, 1000, 1000, 1000]);
    // Over a 5 s call: 9 asks, where a fixed 50 ms would make 100.
    let asks = 0;
    for (let waited = 0; waited < 5000; asks++) waited += busyRecheckMs(asks);
    expect(asks).toBe(9);
  });
});
