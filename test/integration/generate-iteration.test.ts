import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RateSample, secondsPerImage } from '../../core/estimate.ts';
import type { JobRecord } from '../../core/job.ts';
import { planJob } from '../../core/plan.ts';
import type { HostSpec, Lease } from '../../core/pool/host-pool.ts';
import type { HostPool } from '../../core/ports.ts';
import { mergeParams } from '../../core/presets/merge.ts';
import { generateIteration } from '../../core/workflow/generate-iteration.ts';
import type { DynamoDbHostPool } from '../../lambdas/adapters/dynamodb-host-pool.ts';
import { createWorkerDeps, type WorkerDeps } from '../../lambdas/worker-deps.ts';
import { type EmbeddedStores, startEmbeddedStores } from '../../local/embedded-stores.ts';
import { type Simulator, startSimulator } from '../../local/simulator/server.ts';
import { tempDir } from '../support/temp-dir.ts';

let stores: EmbeddedStores;
let dir: Awaited<ReturnType<typeof tempDir>>;
let sim: Simulator;
let deps: WorkerDeps;

/** Records every lease so the test can see each one released, whatever happened in between. */
class RecordingPool implements HostPool {
  readonly hosts: HostSpec[];
  readonly held = new Set<string>();
  grants = 0;
  free = true;
  constructor(hostId: string) {
    this.hosts = [{ id: hostId, depth: 1 }];
  }
  async acquire(jobId: string, holder: string): Promise<Lease | { wait: string }> {
    if (!this.free) return { wait: 'busy' };
    this.grants++;
    this.held.add(holder);
    return { hostId: this.hosts[0]?.id as string, slot: 0, holder, jobId };
  }
  readonly measured: Array<RateSample | undefined> = [];
  async release(lease: Lease, measured?: RateSample) {
    this.held.delete(lease.holder);
    this.measured.push(measured);
  }
  async reportHealth() {
    return false;
  }
  async resting() {
    return [];
  }
  async hostRates() {
    return [];
  }
  async dropWaiter() {}
}

let n = 0;
async function newJob(args: Record<string, unknown> = {}): Promise<JobRecord> {
  const params = mergeParams({}, { prompt: 'p', steps: 2, width: 64, height: 64, ...args }, () => 5);
  const job = planJob(params, {
    jobId: `job_20261124_genit${String(++n).padStart(5, 'a')}`,
    owner: 'o',
    now: new Date(),
    retentionSeconds: 3600,
    calibration: { secondsPerStep: 0.01 },
    parallelHosts: 1,
  });
  await deps.jobs.create(job);
  await deps.jobs.transition(job.job_id, ['pending'], 'running', new Date().toISOString());
  return job;
}

beforeAll(async () => {
  dir = await tempDir();
  stores = await startEmbeddedStores(dir.path);
  sim = await startSimulator({ port: 0, stepMs: 20 });
  deps = createWorkerDeps({
    tableName: stores.tableName,
    bucketName: stores.bucketName,
    sdHost: { baseUrl: sim.url },
    clients: stores.clients,
    progressPollMs: 5,
    progressWriteMs: 10,
  });
});
afterAll(async () => {
  await sim.close();
  await stores.close();
  await dir.remove();
});

describe('generateIteration leases', () => {
  const withPool = () => {
    const pool = new RecordingPool(new URL(sim.url).host);
    return {
      pool,
      run: (jobId: string, iteration = 0) =>
        generateIteration({ job_id: jobId, iteration }, { ...deps, pool }),
    };
  };

  it('waits in the state machine when no slot is free', async () => {
    const { pool, run } = withPool();
    pool.free = false;
    const job = await newJob();
    await expect(run(job.job_id)).rejects.toMatchObject({ name: 'NoSlotAvailableError' });
  });

  it('releases the slot after a success, a host failure, a bad request and a cancel', async () => {
    const { pool, run } = withPool();
    const ok = await newJob();
    expect(await run(ok.job_id)).toMatchObject({ images: 1, skipped: false });

    sim.setFaults({ errorRate: 1 });
    const failing = await newJob();
    await expect(run(failing.job_id)).rejects.toMatchObject({ name: 'SdWebUiUnavailableError' });
    sim.setFaults({ errorRate: 0 });

    const rejected = await newJob({ checkpoint: 'missing-model' });
    await expect(run(rejected.job_id)).rejects.toMatchObject({ name: 'SdWebUiRejectedError' });

    const cancelled = await newJob({ steps: 40 });
    const running = run(cancelled.job_id);
    await new Promise((r) => setTimeout(r, 150));
    await deps.jobs.transition(cancelled.job_id, ['running'], 'cancelled', new Date().toISOString());
    expect(await running).toMatchObject({ skipped: true, images: 0 });
    expect((await deps.jobs.get(cancelled.job_id))?.completed_images).toBe(0);

    expect(pool.grants).toBe(4);
    expect(pool.held.size).toBe(0);
  });

  it('is not held back by a job that ended while it waited for a slot', async () => {
    // Fill every slot, so that job A queues for one; then A is cancelled and the slots freed.
    const held: Lease[] = [];
    for (;;) {
      const lease = await deps.pool.acquire('job_other', `job_other#${held.length}`, 60_000);
      if ('wait' in lease) break;
      held.push(lease);
    }
    const a = await newJob();
    expect(await deps.pool.acquire(a.job_id, `${a.job_id}#0`, 60_000)).toHaveProperty('wait');
    for (const lease of held) await deps.pool.release(lease);
    await deps.jobs.transition(a.job_id, ['running'], 'cancelled', new Date().toISOString());
    // A's place is still fresh and first in line, but its job is over: B goes ahead.
    const b = await newJob();
    expect(await generateIteration({ job_id: b.job_id, iteration: 0 }, deps)).toMatchObject({
      images: 1,
      skipped: false,
    });
    const { waiters } = await (deps.pool as DynamoDbHostPool).snapshot();
    expect(waiters.map((w) => w.jobId)).not.toContain(a.job_id);
  });

  it('does not take a slot for an iteration that is already done', async () => {
    const { pool, run } = withPool();
    const job = await newJob();
    await run(job.job_id);
    expect(await run(job.job_id)).toMatchObject({ skipped: true, images: 1 });
    expect(pool.grants).toBe(1);
  });

  it('measures the GPU time of each call, without the wait behind the call ahead', async () => {
    const { pool, run } = withPool();
    // 10 steps of 20 ms: 0.2 s of sampling per iteration; the second call queues behind the first.
    const job = await newJob({ steps: 10, width: 256, height: 256, n_iter: 2 });
    await Promise.all([run(job.job_id, 0), run(job.job_id, 1)]);
    expect(pool.measured).toHaveLength(2);
    for (const sample of pool.measured) {
      expect(sample?.key).toBe('p-4');
      const seconds = secondsPerImage(
        job.params,
        { secondsPerStep: 1 },
        { [sample?.key ?? '']: sample?.secondsPerUnit ?? 0 },
      );
      expect(seconds).toBeGreaterThan(0.18);
      expect(seconds).toBeLessThan(0.26);
    }
  });

  it('measures nothing when a cancel interrupted the call', async () => {
    const { pool, run } = withPool();
    const job = await newJob({ steps: 40 });
    const running = run(job.job_id);
    await new Promise((r) => setTimeout(r, 150));
    await deps.jobs.transition(job.job_id, ['running'], 'cancelled', new Date().toISOString());
    await running;
    expect(pool.measured).toEqual([undefined]);
  });
});
