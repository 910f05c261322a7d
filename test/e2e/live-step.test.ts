import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callTool, openTestStack, sleep } from '../support/embedded.ts';

/**
 * A real GPU's timing scaled down five times over: 20 steps of 50 ms (1 s an image, 5 s on a
 * GPU), polled every 200 ms (1 s) and written at most every 1 s (PROGRESS_WRITE_MS, 5 s).
 */
let client: Awaited<ReturnType<typeof openTestStack>>['client'];
let close: () => Promise<void>;

beforeAll(async () => {
  ({ client, close } = await openTestStack(
    { SDBATCH_SIM_STEP_MS: '50', SDBATCH_SIM_HOSTS: '1' },
    { progressPollMs: 200, progressWriteMs: 1_000 },
  ));
});
afterAll(() => close?.());

interface Status {
  status: string;
  completed_images: number;
  current: { iteration: number; step: number; steps: number } | null;
  poll_after_seconds: number | null;
}

describe('live step on the simulator', () => {
  it('moves within each call while the job runs, as a client reading status every 100 ms sees it', async () => {
    const started = await callTool<{ job_id: string }>(client, 'sdreforge_batch_start', {
      prompt: 'live step',
      width: 64,
      height: 64,
      steps: 20,
      batch_size: 1,
      n_iter: 5,
    });
    const samples: Array<NonNullable<Status['current']>> = [];
    for (let i = 0; i < 400; i++) {
      const { data } = await callTool<Status>(client, 'sdreforge_batch_status', {
        job_id: started.data.job_id,
      });
      if (data.poll_after_seconds === null) break;
      if (data.current) samples.push(data.current);
      await sleep(100);
    }
    const zero = samples.filter((c) => c.step === 0).length;
    const figures = `${zero} of ${samples.length} samples at step 0`;
    expect(samples.length, figures).toBeGreaterThanOrEqual(10);
    expect(zero, figures).toBeLessThanOrEqual(samples.length / 10);
    // Each call's step is seen moving, and never going back within the call.
    const byCall = Map.groupBy(samples, (c) => c.iteration);
    const moving = [...byCall.values()].filter((seen) => new Set(seen.map((c) => c.step)).size >= 3);
    expect(moving.length, figures).toBeGreaterThanOrEqual(3);
    for (const seen of byCall.values()) {
      for (let i = 1; i < seen.length; i++) {
        expect(seen[i]?.step).toBeGreaterThanOrEqual(seen[i - 1]?.step as number);
      }
    }
  });
});
