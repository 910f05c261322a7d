import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobRecord } from '../../core/job.ts';
import { iterationSeeds } from '../../core/plan.ts';
import { generateRun } from '../../core/workflow/generate-run.ts';
import { createWorkerDeps, type WorkerDeps } from '../../lambdas/composition.ts';
import { type EmbeddedStores, startEmbeddedStores } from '../../local/embedded-stores.ts';
import { type Simulator, startSimulator } from '../../local/simulator/server.ts';
import { LocalTaskCallbacks } from '../../local/step-functions/local-task-callbacks.ts';
import { TaskTokens } from '../../local/step-functions/task-tokens.ts';
import { plannedJob } from '../support/job-fixtures.ts';
import { tempDir } from '../support/temp-dir.ts';

/*
 * A GPU host behind a tunnel that ends requests after a time (the simulator's tunnel mode, as
 * Cloudflare's 100 s): the runner keeps its calls under the host's request limit, and a call the
 * tunnel cut is cleared from the host before anything else is sent there.
 */

let stores: EmbeddedStores;
let dir: Awaited<ReturnType<typeof tempDir>>;
const sims: Simulator[] = [];

beforeAll(async () => {
  dir = await tempDir();
  stores = await startEmbeddedStores(dir.path);
});
afterAll(async () => {
  await Promise.all(sims.map((s) => s.close()));
  await stores.close();
  await dir.remove();
});

async function hostBehindTunnel(options: Parameters<typeof startSimulator>[0], requestLimitSeconds?: number) {
  const sim = await startSimulator({ port: 0, ...options });
  sims.push(sim);
  const deps = createWorkerDeps({
    callbacks: new LocalTaskCallbacks(new TaskTokens()),
    tableName: stores.tableName,
    bucketName: stores.bucketName,
    sdHost: { baseUrl: sim.url, depth: 2, ...(requestLimitSeconds ? { requestLimitSeconds } : {}) },
    clients: stores.clients,
    progressPollMs: 10,
    progressWriteMs: 50,
    retryFirstDelayMs: 0,
  });
  return { sim, deps };
}

let n = 0;
async function newJob(deps: WorkerDeps, args: Record<string, unknown>): Promise<JobRecord> {
  const job = plannedJob(`job_20261207_tunnel${String(++n).padStart(4, 'a')}`, { seed: 5000, ...args });
  await deps.jobs.create(job);
  return job;
}

const run = (deps: WorkerDeps, job: JobRecord) =>
  generateRun({ job_id: job.job_id, runner: 0, runners: 1 }, deps, Date.now() + 600_000);

describe('a host behind a tunnel with a request limit', () => {
  it('makes a batch one call cannot hold in smaller calls, one at a time, with the same seeds', async () => {
    // Scaled down: 20 ms a step per image, a 1.2 s tunnel. A call of 8 images at 10 steps samples
    // 1.6 s; two calls of 4 take 0.8 s each, but two of those queued would be 1.6 s again.
    const limit = 1.2;
    const { sim, deps: built } = await hostBehindTunnel({ stepMs: 20 }, limit);
    sim.setFaults({ tunnelSeconds: limit });
    // The calibration the host is planned with: 20 ms a step, whatever the size (as the simulator).
    const deps = { ...built, calibration: { secondsPerStep: 0.02, minPixels: 512 * 512 } };
    const job = await newJob(deps, { steps: 10, batch_size: 8, n_iter: 2 });
    expect(await run(deps, job)).toEqual({ runner: 0, images: 16, iterations: 2, failed: 0 });

    expect(sim.stats().tunnelCuts).toBe(0);
    const sent = sim.stats().received as Array<{ seed: number; batch_size: number }>;
    expect(sent.map((b) => [b.seed, b.batch_size])).toEqual([
      [5000, 4],
      [5004, 4],
      [5008, 4],
      [5012, 4],
    ]);
    // One call at a time: each began after the one before had ended.
    const runs = sim.stats().busyIntervals;
    for (let i = 1; i < runs.length; i++) {
      expect(runs[i]?.start).toBeGreaterThanOrEqual(runs[i - 1]?.end ?? Number.POSITIVE_INFINITY);
    }
    for (const iteration of [0, 1]) {
      const record = await deps.jobs.getIteration(job.job_id, iteration);
      expect(record?.images.map((image) => [image.index, image.seed])).toEqual(
        iterationSeeds(job.params, iteration).map((seed, index) => [index, seed]),
      );
    }
    const notes = (await deps.jobs.get(job.job_id))?.notes ?? [];
    expect(notes.filter((note) => /made in calls of at most 4 with the same seeds/.test(note))).toHaveLength(
      1,
    );
    expect(notes.join('\n')).toMatch(/to within 1 level in a few pixels .*not bit for bit/);
  });

  it('sends one call at a time while one fits in the limit and two would not', async () => {
    // 4 images at 12 steps of 20 ms: 0.96 s a call, 1.9 s for one queued behind another.
    const limit = 1.6;
    const { sim, deps: built } = await hostBehindTunnel({ stepMs: 20 }, limit);
    sim.setFaults({ tunnelSeconds: limit });
    const deps = { ...built, calibration: { secondsPerStep: 0.02, minPixels: 512 * 512 } };
    const job = await newJob(deps, { steps: 12, batch_size: 4, n_iter: 3 });
    expect(await run(deps, job)).toEqual({ runner: 0, images: 12, iterations: 3, failed: 0 });
    expect(sim.stats().tunnelCuts).toBe(0);
    expect((sim.stats().received as Array<{ batch_size: number }>).map((b) => b.batch_size)).toEqual([
      4, 4, 4,
    ]);
    expect((await deps.jobs.get(job.job_id))?.notes ?? []).toEqual([]);
  });

  it('learns from a 524 that a call takes at least the limit, and splits the next try', async () => {
    // The host's speed is unknown and the calibration ten times too fast: 4 images at 10 steps of
    // 20 ms take 0.8 s, planned as 0.08 s, behind a 0.6 s tunnel.
    const limit = 0.6;
    const { sim, deps: built } = await hostBehindTunnel({ stepMs: 20 }, limit);
    sim.setFaults({ tunnelSeconds: limit });
    const deps = { ...built, calibration: { secondsPerStep: 0.002, minPixels: 512 * 512 } };
    const job = await newJob(deps, { steps: 10, batch_size: 4, n_iter: 1 });
    expect(await run(deps, job)).toEqual({ runner: 0, images: 4, iterations: 1, failed: 0 });
    // A cut for each slot still unmeasured at most (the rates are kept per slot), then 2 + 2.
    const cuts = sim.stats().tunnelCuts;
    expect(cuts).toBeGreaterThanOrEqual(1);
    expect(cuts).toBeLessThanOrEqual(2);
    expect(sim.stats().sentWhileCutRuns).toBe(0);
    const sent = sim.stats().received as Array<{ seed: number; batch_size: number }>;
    expect(sent.slice(cuts).map((b) => [b.seed, b.batch_size])).toEqual([
      [5000, 2],
      [5002, 2],
    ]);
  });

  it('after a 524, sends nothing to the host until the request the tunnel cut is off it', async () => {
    // The tunnel's timer fires when the test says: "100 s" pass once both calls are out.
    const timers: Array<() => void> = [];
    const tunnelClock = {
      sleep: (_ms: number, signal?: AbortSignal) =>
        new Promise<void>((resolve) => {
          timers.push(resolve);
          signal?.addEventListener('abort', () => resolve(), { once: true });
        }),
    };
    // No limit configured: the operator did not know of the tunnel, so two calls are in flight.
    const { sim, deps } = await hostBehindTunnel({ stepMs: 20, tunnelClock });
    sim.setFaults({ tunnelSeconds: 100 });
    const job = await newJob(deps, { steps: 30, n_iter: 2 });
    const running = run(deps, job);
    // Both calls reached the host and the first samples: the tunnel gives up on both.
    while (!((await sampling(sim)) && sim.stats().requests >= 2));
    for (const fire of timers.splice(0)) fire();
    expect(await running).toEqual({ runner: 0, images: 2, iterations: 2, failed: 0 });
    expect(sim.stats().tunnelCuts).toBe(2);
    expect(sim.stats().sentWhileCutRuns).toBe(0);
  });
});

/** Whether the host samples now, asked over HTTP as a client would (each ask waits for its answer). */
const sampling = async (sim: Simulator) =>
  ((await (await fetch(`${sim.url}/sdapi/v1/progress`)).json()) as { state: { sampling_step: number } }).state
    .sampling_step > 0;
