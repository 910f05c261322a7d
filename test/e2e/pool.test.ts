import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EmbeddedStack } from '../../local/stack.ts';
import {
  callTool,
  connectClient,
  openTestStack,
  sleep,
  startTestStack,
  waitForTerminal,
} from '../support/embedded.ts';
import { tempDir } from '../support/temp-dir.ts';

let stack: EmbeddedStack;
let client: Client;
let close: () => Promise<void>;

beforeAll(async () => {
  ({ stack, client, close } = await openTestStack({ SDBATCH_SIM_HOSTS: '2', SDBATCH_SIM_STEP_MS: '4' }));
});
afterAll(() => close?.());

interface Status {
  status: string;
  completed_images: number;
  notes?: string[];
}
const status = async (jobId: string) =>
  (await callTool<Status>(client, 'sdreforge_batch_status', { job_id: jobId })).data;
const waitForEnd = (jobId: string) => waitForTerminal<Status>(client, jobId);

describe('the GPU host pool', () => {
  it('spreads one job over every host', async () => {
    for (const sim of stack.simulators) sim.resetStats();
    const { data } = await callTool<{ job_id: string }>(client, 'sdreforge_batch_start', {
      prompt: 'spread',
      steps: 5,
      width: 64,
      height: 64,
      n_iter: 12,
    });
    expect(await waitForEnd(data.job_id)).toMatchObject({ status: 'completed', completed_images: 12 });
    const perHost = stack.simulators.map((s) => s.stats().imagesReturned);
    expect(perHost.reduce((a, b) => a + b, 0)).toBe(12);
    for (const n of perHost) expect(n).toBeGreaterThanOrEqual(3);
  });

  it('rests a failing host, finishes on the other, and says so in status', async () => {
    const [sick, well] = stack.simulators;
    sick?.setFaults({ errorRate: 1 });
    try {
      for (const sim of stack.simulators) sim.resetStats();
      const { data } = await callTool<{ job_id: string }>(client, 'sdreforge_batch_start', {
        prompt: 'survive',
        steps: 3,
        width: 64,
        height: 64,
        n_iter: 10,
      });
      const end = await waitForEnd(data.job_id);
      expect(end).toMatchObject({ status: 'completed', completed_images: 10 });
      expect(end.notes?.join('\n')).toMatch(
        /GPU host 127\.0\.0\.1:\d+ failed several calls in a row and rests/,
      );
      expect(well?.stats().imagesReturned).toBe(10);
      // Three failures rest it; no more calls reach it while it rests.
      expect(sick?.stats().requests).toBeLessThanOrEqual(4);
    } finally {
      sick?.setFaults({ errorRate: 0 });
    }
  });

  it('lets a small job through while a big one runs, instead of after it', async () => {
    const big = await callTool<{ job_id: string }>(client, 'sdreforge_batch_start', {
      prompt: 'big',
      steps: 10,
      width: 64,
      height: 64,
      n_iter: 60,
    });
    await sleep(200);
    const small = await callTool<{ job_id: string }>(client, 'sdreforge_batch_start', {
      prompt: 'small',
      steps: 10,
      width: 64,
      height: 64,
      n_iter: 2,
    });
    expect(await waitForEnd(small.data.job_id)).toMatchObject({ status: 'completed' });
    const bigNow = await status(big.data.job_id);
    expect(bigNow.status).toBe('running');
    expect(bigNow.completed_images).toBeLessThan(40);
    await callTool(client, 'sdreforge_batch_cancel', { job_id: big.data.job_id });
  });
});

describe('stopping the stack', () => {
  it('ends executions that are waiting for a GPU slot instead of spinning on', async () => {
    const own = await tempDir();
    const lone = await startTestStack(own.path, { SDBATCH_SIM_STEP_MS: '4' });
    try {
      lone.simulator?.setFaults({ errorRate: 1 });
      const mcp = await connectClient(lone);
      await callTool(mcp, 'sdreforge_batch_start', {
        prompt: 'doomed',
        steps: 2,
        width: 64,
        height: 64,
        n_iter: 6,
      });
      // Three failures rest the only host; the other iterations now wait for a slot.
      for (let i = 0; i < 200 && (lone.simulator?.stats().requests ?? 0) < 3; i++) await sleep(10);
      await sleep(200);
      await mcp.close();
      expect(lone.orchestrator.activeExecutions()).toBe(1);
    } finally {
      await lone.stop();
      await own.remove();
    }
    expect(lone.orchestrator.activeExecutions()).toBe(0);
  });
});
