import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EmbeddedStack } from '../../local/stack.ts';
import { callTool, openTestStack, waitForTerminal } from '../support/embedded.ts';

/**
 * Two simulated GPU hosts whose steps take 3x what the stack's calibration says (10 ms, the
 * configured step time, x slowFactor 3): only a measurement can get estimates right.
 */
const STEP_MS = 10;
const SLOW = 3;
const HOSTS = 2;

let stack: EmbeddedStack;
let client: Client;
let close: () => Promise<void>;

beforeAll(async () => {
  ({ stack, client, close } = await openTestStack({
    SDBATCH_SIM_HOSTS: String(HOSTS),
    SDBATCH_SIM_STEP_MS: String(STEP_MS),
  }));
  for (const sim of stack.simulators) sim.setFaults({ slowFactor: SLOW });
});
afterAll(() => close?.());

interface Started {
  job_id: string;
  estimated_seconds: number;
}
interface Status {
  status: string;
  completed_images: number;
  estimated_remaining_seconds: number | null;
}
const start = async (args: Record<string, unknown>) =>
  (await callTool<Started>(client, 'sdreforge_batch_start', { prompt: 'eta', ...args })).data;
const status = async (jobId: string) =>
  (await callTool<Status>(client, 'sdreforge_batch_status', { job_id: jobId })).data;
const waitForEnd = (jobId: string) => waitForTerminal<Status>(client, jobId);
/** What the simulators really take: steps x step time x images / hosts (whatever the size). */
const actualSeconds = (steps: number, images: number) => (steps * (STEP_MS / 1000) * SLOW * images) / HOSTS;

describe('ETA calibrated on each host', () => {
  it("estimates a second job of other steps and batch size from the first job's measured host rates", async () => {
    // 20 steps of 30 ms: 0.6 s per iteration, long beside the few ms each call costs besides.
    const first = await start({ steps: 20, width: 256, height: 256, n_iter: 8 });
    // Nothing measured yet: the calibration, which these slow hosts make far too short (whole
    // seconds, at least 1: 0.8 s reads 1 s, against 2.4 s).
    expect(first.estimated_seconds).toBeLessThan(actualSeconds(20, 8) / 2);
    expect(await waitForEnd(first.job_id)).toMatchObject({ status: 'completed', completed_images: 8 });

    // 25 steps instead of 20, batch 2 instead of 1: 1.5 s per iteration, 8 iterations on 2 hosts.
    const second = await start({ steps: 25, batch_size: 2, width: 256, height: 256, n_iter: 8 });
    const expected = actualSeconds(25, 16);
    expect(second.estimated_seconds).toBeGreaterThanOrEqual(expected * 0.75);
    expect(second.estimated_seconds).toBeLessThanOrEqual(expected * 1.25);

    // Status before its first image rests on the same host rates.
    const early = await status(second.job_id);
    expect(early.completed_images).toBe(0);
    expect(early.estimated_remaining_seconds).toBeGreaterThanOrEqual(expected * 0.75 - 1);
    expect(early.estimated_remaining_seconds).toBeLessThanOrEqual(expected * 1.25);
    await callTool(client, 'sdreforge_batch_cancel', { job_id: second.job_id });
    await waitForEnd(second.job_id);
  });

  it('estimates a job of another size in a measured class from the same rates', async () => {
    // 256x288 is the same size class as 256x256: its rate holds, scaled by 12% more pixels.
    const other = await start({ steps: 20, width: 256, height: 288, n_iter: 20 });
    const expected = actualSeconds(20, 20);
    expect(other.estimated_seconds).toBeGreaterThanOrEqual(expected * 0.75);
    expect(other.estimated_seconds).toBeLessThanOrEqual(expected * 1.25 * (288 / 256));
    await callTool(client, 'sdreforge_batch_cancel', { job_id: other.job_id });
    await waitForEnd(other.job_id);
  });
});
