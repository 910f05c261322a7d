import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EmbeddedStack } from '../../local/stack.ts';
import { callTool, openTestStack, waitForTerminal } from '../support/embedded.ts';

/*
 * `npm start` with its simulator behind a tunnel (SDBATCH_SIM_FAULTS tunnelSeconds, as Cloudflare's
 * 100 s, scaled down) and the host's request limit set to match: an SDXL-sized batch, one call of
 * which outlasts the tunnel, still comes back whole.
 */

let stack: EmbeddedStack;
let client: Client;
let close: () => Promise<void>;

beforeAll(async () => {
  ({ stack, client, close } = await openTestStack({
    SDBATCH_SIM_STEP_MS: '20',
    SDBATCH_HOST_REQUEST_LIMIT_SECONDS: '1.2',
    SDBATCH_SIM_FAULTS: '{"tunnelSeconds":1.2}',
  }));
});
afterAll(() => close?.());

interface Status {
  status: string;
  completed_images: number;
  failed_images: number;
  notes?: string[];
}

describe('a GPU host behind a tunnel', () => {
  it('makes a batch whose one call would outlast the tunnel, and says it was split', async () => {
    // 8 images x 10 steps x 20 ms: 1.6 s in one call, behind a 1.2 s tunnel.
    const { data } = await callTool<{ job_id: string }>(client, 'sdreforge_batch_start', {
      prompt: 'tunnel',
      steps: 10,
      width: 64,
      height: 64,
      batch_size: 8,
      n_iter: 2,
    });
    const end = await waitForTerminal<Status>(client, data.job_id, { timeoutMs: 60_000 });
    expect(end).toMatchObject({ status: 'completed', completed_images: 16, failed_images: 0 });
    expect(end.notes?.join('\n')).toMatch(/made in calls of at most \d with the same seeds/);
    // The stack's calibration takes a 64x64 step for a fraction of the simulator's, so the first
    // two calls went whole and were cut; what the cuts taught the host's rate split the rest.
    const sim = stack.simulators[0];
    if (!sim) throw new Error('the stack runs no simulator');
    const stats = sim.stats();
    expect(stats.tunnelCuts).toBeLessThanOrEqual(2);
    const sent = stats.received as Array<{ batch_size: number }>;
    expect(sent.slice(-4).map((b) => b.batch_size)).toEqual([4, 4, 4, 4]);
    expect(stats.sentWhileCutRuns).toBe(0);
  });
});
