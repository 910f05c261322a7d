import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIMENSION, METRIC, MemoryMetrics } from '../../core/metrics.ts';
import type { EmbeddedStack } from '../../local/stack.ts';
import { callTool, openTestStack, waitForTerminal } from '../support/embedded.ts';

/** Two simulated hosts of one slot each: one job's runner holds both, so a second job waits. */
let stack: EmbeddedStack;
let client: Client;
let close: () => Promise<void>;
const emitted = new MemoryMetrics();

beforeAll(async () => {
  ({ stack, client, close } = await openTestStack(
    { SDBATCH_SIM_HOSTS: '2', SDBATCH_HOST_DEPTH: '1', SDBATCH_SIM_STEP_MS: '5' },
    { metrics: { emitted } },
  ));
});
afterAll(() => close?.());

const start = async (args: Record<string, unknown>) =>
  (await callTool<{ job_id: string }>(client, 'sdreforge_batch_start', { prompt: 'metrics', ...args })).data
    .job_id;

describe('the operational metrics the handlers emit (CloudWatch in AWS)', () => {
  it('count jobs started and ended, images stored, GPU seconds per host and runners waiting', async () => {
    // 10 iterations of 20 steps at 5 ms: the first job holds both slots for about half a second.
    const first = await start({ steps: 20, width: 128, height: 128, n_iter: 10, batch_size: 2 });
    const second = await start({ steps: 20, width: 128, height: 128, n_iter: 3 });
    for (const job of [first, second]) {
      expect(await waitForTerminal(client, job)).toMatchObject({ status: 'completed' });
    }
    // A job reads completed once its finalize task has written it; the task counts it after.
    await stack.orchestrator.drain(false);

    expect(emitted.sum(METRIC.jobsStarted)).toBe(2);
    expect(emitted.sum(METRIC.jobsEnded, { [DIMENSION.status]: 'completed' })).toBe(2);
    expect(emitted.sum(METRIC.imagesStored)).toBe(23);
    // Every host of the pool sampled, each under its own id (host:port), in seconds.
    const hosts = stack.simulators.map((sim) => new URL(sim.url).host);
    for (const host of hosts) {
      expect(emitted.sum(METRIC.gpuBusySeconds, { [DIMENSION.host]: host }), host).toBeGreaterThan(0);
    }
    const busyPoints = emitted.points.filter((p) => p.name === METRIC.gpuBusySeconds);
    expect(new Set(busyPoints.map((p) => p.dimensions[DIMENSION.host]))).toEqual(new Set(hosts));
    expect(busyPoints.every((p) => p.unit === 'Seconds')).toBe(true);
    // The second job's runner found both slots taken and joined the queue.
    const waiting = emitted.points.filter((p) => p.name === METRIC.runnersWaiting);
    expect(waiting.length).toBeGreaterThan(0);
    expect(Math.max(...waiting.map((p) => p.value))).toBeGreaterThanOrEqual(1);
  });
});
