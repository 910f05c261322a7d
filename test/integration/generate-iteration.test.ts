import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { documentClient, s3Client } from '../../adapters/aws-clients.ts';
import type { DynamoDbHostPool } from '../../adapters/dynamodb-host-pool.ts';
import { S3ImageStore } from '../../adapters/s3-image-store.ts';
import { SdWebUiUnavailableError, TransientAwsError } from '../../core/errors.ts';
import { secondsPerImage } from '../../core/estimate.ts';
import { identifyImage } from '../../core/image-format/identify.ts';
import type { JobRecord } from '../../core/job.ts';
import type { HostSpec, Lease } from '../../core/pool/host-pool.ts';
import type { JobStore, SdWebUi } from '../../core/ports.ts';
import { type Asker, generateIteration } from '../../core/workflow/generate-iteration.ts';
import { generateRun } from '../../core/workflow/generate-run.ts';
import { jobClaim } from '../../core/workflow/job-claim.ts';
import { createWorkerDeps, type WorkerDeps } from '../../lambdas/composition.ts';
import { type EmbeddedStores, startEmbeddedStores } from '../../local/embedded-stores.ts';
import { type Simulator, startSimulator } from '../../local/simulator/server.ts';
import { LocalTaskCallbacks } from '../../local/step-functions/local-task-callbacks.ts';
import { TaskTokens } from '../../local/step-functions/task-tokens.ts';
import { plannedJob } from '../support/job-fixtures.ts';
import { poolAsk } from '../support/pool-ask.ts';
import { RacingPool } from '../support/racing-pool.ts';
import { RecordingPool } from '../support/recording-pool.ts';
import { tempDir } from '../support/temp-dir.ts';

let stores: EmbeddedStores;
let dir: Awaited<ReturnType<typeof tempDir>>;
let sim: Simulator;
let deps: WorkerDeps;

let n = 0;
async function newJob(args: Record<string, unknown> = {}): Promise<JobRecord> {
  const job = plannedJob(`job_20261124_genit${String(++n).padStart(5, 'a')}`, { steps: 2, ...args });
  await deps.jobs.create(job);
  await deps.jobs.transition(job.job_id, ['pending'], 'running', new Date().toISOString());
  return job;
}

beforeAll(async () => {
  dir = await tempDir();
  stores = await startEmbeddedStores(dir.path);
  sim = await startSimulator({ port: 0, stepMs: 20 });
  deps = createWorkerDeps({
    callbacks: new LocalTaskCallbacks(new TaskTokens()),
    tableName: stores.tableName,
    bucketName: stores.bucketName,
    sdHost: { baseUrl: sim.url },
    clients: stores.clients,
    progressPollMs: 5,
    progressWriteMs: 10,
    retryFirstDelayMs: 0,
  });
});
afterAll(async () => {
  await sim.close();
  await stores.close();
  await dir.remove();
});

/**
 * The worker deps' job store, telling when a call first writes its progress (its request is
 * sampling) and when an iteration is recorded: a test acts on those, not after a guessed time.
 */
function watchedJobs() {
  const waiting: Array<() => void> = [];
  /** Settles when a call next writes its progress. */
  const sampling = () => new Promise<void>((resolve) => waiting.push(resolve));
  const recorded = new Set<number>();
  const jobs: JobStore = Object.create(deps.jobs);
  jobs.setCurrent = (jobId, current) => {
    for (const resolve of waiting.splice(0)) resolve();
    return deps.jobs.setCurrent(jobId, current);
  };
  jobs.recordIteration = async (record, expiresAt) => {
    await deps.jobs.recordIteration(record, expiresAt);
    recorded.add(record.iteration);
  };
  return { jobs, sampling, recorded };
}

/** Runner 0 of 1, asking with its job's claim. */
const asker: Asker = { runner: 0, claim: (job) => jobClaim(job, 1) };

describe('generateIteration leases', () => {
  const withPool = () => {
    const pool = new RecordingPool(new URL(sim.url).host, 2);
    const { jobs, sampling } = watchedJobs();
    return {
      pool,
      sampling,
      run: (jobId: string, iteration = 0) =>
        generateIteration({ job_id: jobId, iteration }, { ...deps, jobs, pool }, asker),
    };
  };

  it('waits in the state machine when no slot is free', async () => {
    const { pool, run } = withPool();
    pool.free = false;
    const job = await newJob();
    await expect(run(job.job_id)).rejects.toMatchObject({ name: 'NoSlotAvailableError' });
  });

  it('releases the slot after a success, a host failure, a bad request and a cancel', async () => {
    const { pool, run, sampling } = withPool();
    const ok = await newJob();
    expect(await run(ok.job_id)).toMatchObject({ images: 1, skipped: false });

    sim.setFaults({ errorRate: 1 });
    const failing = await newJob();
    await expect(run(failing.job_id)).rejects.toMatchObject({ name: 'SdWebUiUnavailableError' });
    sim.setFaults({ errorRate: 0 });

    const rejected = await newJob({ checkpoint: 'missing-model' });
    await expect(run(rejected.job_id)).rejects.toMatchObject({ name: 'SdWebUiRejectedError' });

    const cancelled = await newJob({ steps: 40 });
    const started = sampling();
    const running = run(cancelled.job_id);
    await started;
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
      const lease = await deps.pool.acquire(poolAsk('job_other', `job_other#${held.length}`), 60_000);
      if ('wait' in lease) break;
      held.push(lease);
    }
    // A is first in line: created at 0 with little left to do.
    const a = await newJob();
    const aAsk = poolAsk(a.job_id, `${a.job_id}#0`, { work: 1 });
    expect(await deps.pool.acquire(aAsk, 60_000)).toHaveProperty('wait');
    for (const lease of held) await deps.pool.release(lease);
    await deps.jobs.transition(a.job_id, ['running'], 'cancelled', new Date().toISOString());
    // A's place is still fresh and first in line, but its job is over: B goes ahead.
    const b = await newJob();
    expect(await generateIteration({ job_id: b.job_id, iteration: 0 }, deps, asker)).toMatchObject({
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

  it('looks again under the lease: an iteration counted after the runner last read its job is not made twice', async () => {
    const { pool } = withPool();
    const job = await newJob();
    const stale = { job: await deps.jobs.get(job.job_id) };
    // Another runner makes and counts iteration 0 while this one still holds the older read.
    await generateIteration({ job_id: job.job_id, iteration: 0 }, { ...deps, pool }, asker);
    const calls = sim.stats().requests;
    const again = await generateIteration(
      { job_id: job.job_id, iteration: 0 },
      { ...deps, pool },
      { ...asker, latest: stale },
    );
    expect(again).toMatchObject({ skipped: true, images: 1 });
    expect(sim.stats().requests).toBe(calls);
    expect(stale.job?.counted?.has(0)).toBe(true);
    expect((await deps.jobs.get(job.job_id))?.completed_images).toBe(1);
  });

  it('makes an iteration once when its owner and a runner taking it at the job’s end ask at the same moment', async () => {
    // Two slots, and both asks decide on the same read of the pool: each wins one.
    const pool = new RacingPool(
      documentClient(stores.clients),
      stores.tableName,
      [{ ...deps.pool.hosts[0], depth: 2 } as HostSpec],
      {
        name: `race-${n}`,
        calibration: { secondsPerStep: 0.01 },
      },
    );
    const job = await newJob();
    await deps.jobs.markStealing(job.job_id);
    const calls = sim.stats().requests;
    pool.race(2);
    const ask = (runner: number, stolen: boolean) =>
      generateIteration(
        { job_id: job.job_id, iteration: 0 },
        { ...deps, pool },
        { ...asker, runner, stolen },
      );
    const [owner, taker] = await Promise.all([ask(0, false), ask(1, true)]);
    expect([owner, taker].filter((r) => !r.skipped).length).toBeLessThanOrEqual(1);
    // When both stood back, the owner asks again, as its runner would.
    if (owner.running_elsewhere && taker.running_elsewhere) {
      expect(await ask(0, false)).toMatchObject({ skipped: false, images: 1 });
    }
    expect(sim.stats().requests - calls).toBe(1);
    expect((await deps.jobs.get(job.job_id))?.completed_images).toBe(1);
  });

  it('measures the GPU time of each call, without the wait behind the call ahead', async () => {
    const { pool, run } = withPool();
    // 10 steps of 20 ms: 0.2 s of sampling per iteration; the second call queues behind the first.
    const job = await newJob({ steps: 10, width: 256, height: 256, n_iter: 2 });
    sim.resetStats();
    await Promise.all([run(job.job_id, 0), run(job.job_id, 1)]);
    expect(pool.measured).toHaveLength(2);
    // What the GPU really spent per call, by the simulator's own clock: a loaded machine slows
    // both sides alike, so the comparison is a ratio, not a time.
    const busy = sim.stats().busyIntervals.map((b) => (b.end - b.start) / 1000);
    expect(busy).toHaveLength(2);
    const actual = busy.reduce((a, b) => a + b, 0) / busy.length;
    for (const sample of pool.measured) {
      expect(sample?.key).toBe('p-4');
      const seconds = secondsPerImage(
        job.params,
        { secondsPerStep: 1 },
        { [sample?.key ?? '']: sample?.secondsPerUnit ?? 0 },
      );
      // The second call waited a whole call behind the first: counted, it would be about 2x.
      expect(seconds / actual).toBeGreaterThan(0.5);
      expect(seconds / actual).toBeLessThan(1.5);
    }
  });

  it('measures nothing when a cancel interrupted the call', async () => {
    const { pool, run, sampling } = withPool();
    const job = await newJob({ steps: 40 });
    const started = sampling();
    const running = run(job.job_id);
    await started;
    await deps.jobs.transition(job.job_id, ['running'], 'cancelled', new Date().toISOString());
    await running;
    expect(pool.measured).toEqual([undefined]);
  });
});

describe('generateRun: one generate task, two calls in flight', () => {
  const later = () => Date.now() + 600_000;
  const withPool = (capacity = 2, hosts = deps.hosts) => {
    const pool = new RecordingPool(new URL(sim.url).host, capacity);
    const { jobs, sampling, recorded } = watchedJobs();
    const runDeps = { ...deps, jobs, pool, hosts };
    return {
      pool,
      sampling,
      recorded,
      run: (jobId: string, runner = 0, runners = 1, deadline = later()) =>
        generateRun({ job_id: jobId, runner, runners }, runDeps, deadline),
    };
  };
  it('does its own iterations first, then the others still left from the last, holding two slots at once', async () => {
    const { pool, run } = withPool();
    const job = await newJob({ n_iter: 7, batch_size: 2, seed: 1000 });
    sim.resetStats();
    // Runner 1 of 3 owns 1 and 4; the other two runners never came, so it makes theirs too.
    expect(await run(job.job_id, 1, 3)).toEqual({ runner: 1, images: 14, iterations: 7, failed: 0 });
    const order = (sim.stats().received as Array<{ seed: number }>).map((b) => (b.seed - 1000) / 2);
    expect(order.slice(0, 2).sort()).toEqual([1, 4]);
    expect(order.slice(2, 4).sort()).toEqual([5, 6]);
    expect([...order].sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);
    // After the first two, each call took over a finished call's lease.
    expect(pool.handedOver).toBe(5);
    expect(pool.maxHeld).toBe(2);
    expect(pool.held.size).toBe(0);
  });

  it('takes none of the others’ iterations that are being made: not even an ask for their slot', async () => {
    const { pool, run } = withPool(4);
    const job = await newJob({ n_iter: 4 });
    // Runner 1 of 2 is making 1 and 3.
    pool.held.add(`${job.job_id}#1`);
    pool.held.add(`${job.job_id}#3`);
    const asked: string[] = [];
    const acquire = pool.acquire.bind(pool);
    pool.acquire = async (ask, ...rest) => {
      asked.push(ask.holder);
      return acquire(ask, ...rest);
    };
    expect(await run(job.job_id, 0, 2)).toMatchObject({ iterations: 2, images: 2 });
    expect(asked.sort()).toEqual([`${job.job_id}#0`, `${job.job_id}#2`]);
    expect((await deps.jobs.get(job.job_id))?.stealing).toBeFalsy();
  });

  it('leaves an iteration another runner is making to it, and makes it itself if that lease lapses', async () => {
    const { pool, run, recorded } = withPool(3);
    const job = await newJob({ n_iter: 3 });
    pool.held.add(`${job.job_id}#0`);
    // The runner has made 1 and 2 and looks again at 0, which it still finds held.
    const { promise: stoodBack, resolve: standingBack } = Promise.withResolvers<void>();
    const isHeld = pool.isHeld.bind(pool);
    pool.isHeld = async (holder) => {
      const held = await isHeld(holder);
      if (holder === `${job.job_id}#0` && held && recorded.has(1) && recorded.has(2)) standingBack();
      return held;
    };
    const running = run(job.job_id);
    await stoodBack;
    expect((await deps.jobs.get(job.job_id))?.counted).toEqual(new Set([1, 2]));
    // The other worker died: its lease is gone, and iteration 0 is still not counted.
    pool.held.delete(`${job.job_id}#0`);
    expect(await running).toMatchObject({ iterations: 3, images: 3 });
  });

  /**
   * A runner of a 2-iteration job whose iteration 0 another runner holds, and whose iteration 1's
   * call is held at the host until the test lets it go.
   */
  const besideATaker = async (seed: number) => {
    const pool = new RecordingPool(new URL(sim.url).host, 2);
    const job = await newJob({ n_iter: 2, seed });
    const [hostId, sd] = [...deps.hosts][0] as [string, SdWebUi];
    const { promise: gate, resolve: release } = Promise.withResolvers<void>();
    const { promise: started, resolve: sampling } = Promise.withResolvers<void>();
    // Iteration 1's call stays out (its answer held) until the test releases it.
    const gated: SdWebUi = Object.assign(Object.create(sd), {
      txt2img: async (...args: Parameters<SdWebUi['txt2img']>) => {
        const answer = await sd.txt2img(...args);
        if (args[0].seed === seed + 1) {
          sampling();
          await gate;
        }
        return answer;
      },
    });
    pool.held.add(`${job.job_id}#0`);
    const running = generateRun(
      { job_id: job.job_id, runner: 0, runners: 1 },
      { ...deps, pool, hosts: new Map([[hostId, gated]]) },
      later(),
    );
    await started;
    return { pool, job, running, release, letGo: () => pool.held.delete(`${job.job_id}#0`) };
  };

  it('makes an iteration another runner stood back from while its own other call is still running', async () => {
    const { job, running, release, letGo } = await besideATaker(500);
    // The other runner lets iteration 0 go without making it (it stood back too).
    letGo();
    await vi.waitFor(async () => expect((await deps.jobs.get(job.job_id))?.counted).toEqual(new Set([0])), {
      timeout: 5000,
      interval: 20,
    });
    release();
    expect(await running).toMatchObject({ iterations: 2, images: 2 });
  });

  it('asks no slot for an iteration another runner made and counted while it waited', async () => {
    const { pool, job, running, release, letGo } = await besideATaker(600);
    // The other runner makes and counts it, then lets its lease go.
    const other = new RecordingPool(new URL(sim.url).host, 1);
    await generateIteration({ job_id: job.job_id, iteration: 0 }, { ...deps, pool: other }, asker);
    letGo();
    release();
    expect(await running).toMatchObject({ iterations: 1, images: 1 });
    // One slot: iteration 1's. Iteration 0 was seen counted, not asked for again.
    expect(pool.grants).toBe(1);
    expect((await deps.jobs.get(job.job_id))?.completed_images).toBe(2);
  });

  it('finishes what it has in flight when refused, then waits in the state machine; a new start does only the rest', async () => {
    const { pool, run } = withPool();
    const job = await newJob({ n_iter: 5 });
    pool.grantsLeft = 3;
    await expect(run(job.job_id)).rejects.toMatchObject({ name: 'NoSlotAvailableError' });
    expect((await deps.jobs.get(job.job_id))?.completed_images).toBe(3);
    expect(pool.held.size).toBe(0);
    // Refused, it keeps its place in the queue for its Wait state; done, it leaves.
    expect(pool.left).toEqual([]);
    pool.grantsLeft = Number.POSITIVE_INFINITY;
    const before = sim.stats().requests;
    expect(await run(job.job_id)).toMatchObject({ images: 2, iterations: 2 });
    expect(sim.stats().requests - before).toBe(2);
    expect((await deps.jobs.get(job.job_id))?.completed_images).toBe(5);
    expect(pool.left).toEqual([`${job.job_id}/0`]);
  });

  it('pauses before a call could outlive its deadline, keeping what it made', async () => {
    const { run } = withPool();
    const job = await newJob({ n_iter: 4 });
    const callMs = deps.callTimeoutMs(job.params);
    await expect(run(job.job_id, 0, 1, Date.now() + callMs - 1)).rejects.toMatchObject({
      name: 'RunPausedError',
    });
    expect((await deps.jobs.get(job.job_id))?.completed_images).toBe(0);
    expect(await run(job.job_id)).toMatchObject({ images: 4, iterations: 4 });
  });

  it('launches no call once its invocation is told to stop (timed out), pausing with what it made', async () => {
    const { pool } = withPool();
    const job = await newJob({ n_iter: 2 });
    const before = sim.stats().requests;
    const stop = AbortSignal.abort();
    await expect(
      generateRun({ job_id: job.job_id, runner: 0, runners: 1 }, { ...deps, pool }, later(), stop),
    ).rejects.toMatchObject({ name: 'RunPausedError' });
    expect(sim.stats().requests - before).toBe(0);
    expect(pool.held.size).toBe(0);
  });

  it('retries a host failure within the run and records an iteration the host rejects', async () => {
    const { pool } = withPool();
    // The host fails the first call only: the run tries that iteration again itself.
    const [hostId, sd] = [...deps.hosts][0] as [string, SdWebUi];
    let failures = 1;
    const flaky: SdWebUi = Object.assign(Object.create(sd), {
      txt2img: (...args: Parameters<SdWebUi['txt2img']>) =>
        failures-- > 0
          ? Promise.reject(new SdWebUiUnavailableError('connection reset'))
          : sd.txt2img(...args),
    });
    const job = await newJob({ n_iter: 2 });
    const flakyDeps = { ...deps, pool, hosts: new Map([[hostId, flaky]]) };
    expect(await generateRun({ job_id: job.job_id, runner: 0, runners: 1 }, flakyDeps, later())).toEqual({
      runner: 0,
      images: 2,
      iterations: 2,
      failed: 0,
    });
    // Three calls: the one that failed, its second try and the other iteration.
    expect(failures).toBe(-2);
    const run = (jobId: string) =>
      generateRun({ job_id: jobId, runner: 0, runners: 1 }, { ...deps, pool }, later());

    sim.setFaults({ errorRate: 1 });
    const hopeless = await newJob({ n_iter: 2 });
    expect(await run(hopeless.job_id)).toMatchObject({ images: 0, iterations: 2, failed: 2 });
    sim.setFaults({ errorRate: 0 });
    const failed = await deps.jobs.listIterations(hopeless.job_id);
    expect(failed.map((r) => [r.status, r.error?.type])).toEqual([
      ['failed', 'SdWebUiUnavailableError'],
      ['failed', 'SdWebUiUnavailableError'],
    ]);

    const rejected = await newJob({ n_iter: 2, checkpoint: 'missing-model' });
    const calls = pool.grants;
    expect(await run(rejected.job_id)).toMatchObject({ iterations: 2, failed: 2 });
    // Rejected: no second try.
    expect(pool.grants - calls).toBe(2);
    expect((await deps.jobs.get(rejected.job_id))?.failed_images).toBe(2);
    expect(pool.held.size).toBe(0);
  });

  it('stores each image as the answer brings it, and refuses an answer with a grid first rather than store it shifted', async () => {
    const { pool } = withPool();
    const [hostId, sd] = [...deps.hosts][0] as [string, SdWebUi];
    const handedOn: number[] = [];
    let firstImage = 0;
    const host: SdWebUi = Object.assign(Object.create(sd), {
      txt2img: async (...[payload, signal, answering, sink]: Parameters<SdWebUi['txt2img']>) => {
        const result = await sd.txt2img(payload, signal, answering, async (image, position) => {
          handedOn.push(position);
          await sink?.(image, position);
        });
        return { ...result, ...(firstImage ? { firstImage } : {}) };
      },
    });
    const run = (jobId: string) =>
      generateRun(
        { job_id: jobId, runner: 0, runners: 1 },
        { ...deps, pool, hosts: new Map([[hostId, host]]) },
        later(),
      );
    const job = await newJob({ n_iter: 1, batch_size: 3 });
    expect(await run(job.job_id)).toMatchObject({ images: 3, failed: 0 });
    expect(handedOn).toEqual([0, 1, 2]);
    const [record] = await deps.jobs.listIterations(job.job_id);
    for (const image of record?.images ?? []) expect(await deps.images.exists(image.key)).toBe(true);

    firstImage = 1;
    const grid = await newJob({ n_iter: 1, batch_size: 2 });
    expect(await run(grid.job_id)).toMatchObject({ images: 0, failed: 1 });
    const [failed] = await deps.jobs.listIterations(grid.job_id);
    expect(failed?.error).toMatchObject({
      type: 'SdWebUiRejectedError',
      message: expect.stringContaining('grid'),
    });
  });

  it('continues the failed-call count a runner before it left in the job', async () => {
    const { run } = withPool();
    const job = await newJob({ n_iter: 1 });
    // An earlier runner tried three times before it paused: one try is left.
    for (let i = 0; i < 3; i++) await deps.jobs.recordAttempt(job.job_id, 0);
    sim.setFaults({ errorRate: 1 });
    const before = sim.stats().requests;
    try {
      expect(await run(job.job_id)).toMatchObject({ iterations: 1, failed: 1, images: 0 });
    } finally {
      sim.setFaults({ errorRate: 0 });
    }
    expect(sim.stats().requests - before).toBe(1);
    expect((await deps.jobs.get(job.job_id))?.attempts).toEqual({ 0: 4 });
  });

  it('ends with TransientAwsError when a store stays throttled, recording nothing failed; started again, it makes the rest', async () => {
    const pool = new RecordingPool(new URL(sim.url).host, 2);
    // The bucket answers SlowDown past the SDK's retries once: what the S3 client then throws.
    let throttled = 1;
    const images = Object.assign(Object.create(deps.images), {
      put: (image: Parameters<typeof deps.images.put>[0]) =>
        throttled-- > 0
          ? Promise.reject(
              new TransientAwsError("S3 PutObjectCommand failed after the SDK's retries: SlowDown"),
            )
          : deps.images.put(image),
    });
    const job = await newJob({ n_iter: 3 });
    const run = () =>
      generateRun({ job_id: job.job_id, runner: 0, runners: 1 }, { ...deps, pool, images }, later());
    await expect(run()).rejects.toMatchObject({ name: 'TransientAwsError' });
    const after = await deps.jobs.get(job.job_id);
    expect(after?.failed_images ?? 0).toBe(0);
    expect((await deps.jobs.listIterations(job.job_id)).filter((r) => r.status === 'failed')).toEqual([]);
    expect(pool.held.size).toBe(0);
    // The state machine's Retry starts the runner again: it goes on where the last one was.
    expect(await run()).toMatchObject({ failed: 0 });
    expect((await deps.jobs.get(job.job_id))?.completed_images).toBe(3);
  });

  it('stops launching once its job is cancelled', async () => {
    const { pool, run, sampling } = withPool();
    const job = await newJob({ n_iter: 10, steps: 20 });
    const started = sampling();
    const running = run(job.job_id);
    await started;
    await deps.jobs.transition(job.job_id, ['running'], 'cancelled', new Date().toISOString());
    const out = await running;
    expect(out.iterations).toBeLessThan(10);
    expect(pool.grants).toBeLessThan(10);
    expect(pool.held.size).toBe(0);
  });

  it('sends its calls to a host in the order they got their slots, whichever is ready to send first', async () => {
    // The first call's first /progress poll is answered only after the second call's.
    const [hostId, inner] = [...deps.hosts][0] as [string, SdWebUi];
    let polls = 0;
    let releaseFirst: () => void = () => {};
    const firstHeld = new Promise<void>((resolve) => {
      releaseFirst = resolve;
    });
    const host: SdWebUi = Object.create(inner);
    host.progress = async (signal) => {
      const n = polls++;
      if (n === 0) await firstHeld;
      const answer = await inner.progress(signal);
      if (n === 1) releaseFirst();
      return answer;
    };
    const { run } = withPool(2, new Map([[hostId, host]]));
    const job = await newJob({ n_iter: 2, steps: 2, seed: 3000 });
    sim.resetStats();
    expect(await run(job.job_id)).toMatchObject({ images: 2 });
    const order = (sim.stats().received as Array<{ seed: number }>).map((b) => b.seed - 3000);
    expect(order).toEqual([0, 1]);
  });

  it('stops its queued call too, though the host would take two calls sent together in either order', async () => {
    // Like the real SD WebUI (5 of 12 pairs sent together came in swapped), this host lets a call
    // sent just after another overtake it: the first request is held until the host has the
    // second, or until 20 polls went by without one.
    const [hostId, inner] = [...deps.hosts][0] as [string, SdWebUi];
    let held: (() => void) | undefined;
    let heldPolls = 0;
    let sends = 0;
    let received = 0;
    const host: SdWebUi = Object.create(inner);
    host.txt2img = async (...args) => {
      if (sends++ === 0) {
        received = sim.stats().requests;
        await new Promise<void>((resolve) => {
          held = resolve;
        });
      }
      return inner.txt2img(...args);
    };
    host.progress = async (signal) => {
      if (held && (sim.stats().requests > received || ++heldPolls >= 20)) {
        held();
        held = undefined;
      }
      return inner.progress(signal);
    };
    const { run, sampling } = withPool(2, new Map([[hostId, host]]));
    const job = await newJob({ n_iter: 4, steps: 40 });
    sim.resetStats();
    const started = sampling();
    const running = run(job.job_id);
    await started;
    await deps.jobs.transition(job.job_id, ['running'], 'cancelled', new Date().toISOString());
    expect(await running).toMatchObject({ images: 0 });
    // The call sampling at the cancel stopped short of its 40 steps; the one queued behind it
    // was interrupted at its first step.
    const [first, ...rest] = sim.stats().busyIntervals.map((run) => run.steps);
    expect(first).toBeLessThan(40);
    expect(rest.length).toBeGreaterThan(0);
    for (const steps of rest) expect(steps).toBeLessThanOrEqual(1);
  });
});

describe('what is stored is what SD WebUI made', () => {
  const objectsOf = (jobId: string) =>
    new S3ImageStore(s3Client(stores.clients), stores.bucketName).newestUnder(`jobs/${jobId}/`);
  const setFormat = async (samples_format: string) => {
    const answer = await fetch(`${sim.url}/sdapi/v1/options`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ samples_format }),
    });
    expect(answer.status).toBe(200);
  };
  afterEach(() => setFormat('png'));

  it.each([
    ['jpg', 'jpg', 'image/jpeg', 'jpeg'],
    ['webp', 'webp', 'image/webp', 'webp'],
  ] as const)(
    'stores a %s answer as .%s with %s, its real size and the infotext it carries',
    async (option, extension, type, format) => {
      await setFormat(option);
      const pool = new RecordingPool(new URL(sim.url).host, 2);
      // Hires fix x2: the images are 192x128, not the 96x64 asked for.
      const job = await newJob({
        batch_size: 2,
        width: 96,
        height: 64,
        enable_hr: true,
        hr_scale: 2,
        hr_upscaler: 'Latent',
      });
      expect(
        await generateIteration({ job_id: job.job_id, iteration: 0 }, { ...deps, pool }, asker),
      ).toMatchObject({
        images: 2,
      });
      const [record] = await deps.jobs.listIterations(job.job_id);
      expect(record?.images.map((i) => [i.key, i.width, i.height])).toEqual([
        [`jobs/${job.job_id}/000-0.${extension}`, 192, 128],
        [`jobs/${job.job_id}/000-1.${extension}`, 192, 128],
      ]);
      for (const image of record?.images ?? []) {
        const object = await fetch((await deps.images.presignGet(image.key, 60)).url);
        expect(object.headers.get('content-type')).toBe(type);
        const stored = identifyImage(new Uint8Array(await object.arrayBuffer()));
        expect(stored).toMatchObject({ format, width: 192, height: 128 });
        expect(image.infotext).toBe(stored.infotext);
        expect(image.infotext).toMatch(new RegExp(`^p\\n.*Seed: ${image.seed},.*Hires upscale: 2`));
      }
    },
  );

  it('fails an iteration whose answer holds an image that is no PNG, JPEG or WebP: nothing stored, nothing counted, not tried again', async () => {
    const [hostId, sd] = [...deps.hosts][0] as [string, SdWebUi];
    // The first image of the answer is a real PNG, the second an SVG.
    const svg = new TextEncoder().encode('<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"/>');
    const host: SdWebUi = Object.create(sd);
    host.txt2img = async (payload, signal) => {
      const answer = await sd.txt2img(payload, signal);
      return { ...answer, images: answer.images.map((image, i) => (i === 1 ? svg : image)) };
    };
    const pool = new RecordingPool(new URL(sim.url).host, 2);
    const job = await newJob({ batch_size: 2, n_iter: 1 });
    const run = generateRun(
      { job_id: job.job_id, runner: 0, runners: 1 },
      { ...deps, pool, hosts: new Map([[hostId, host]]) },
      Date.now() + 600_000,
    );
    expect(await run).toEqual({ runner: 0, images: 0, iterations: 1, failed: 1 });
    expect(pool.grants).toBe(1);
    const [record] = await deps.jobs.listIterations(job.job_id);
    expect(record).toMatchObject({ status: 'failed', images: [], error: { type: 'UnsupportedImageError' } });
    expect(record?.error?.message).toBe(
      `image 1 of GPU host ${hostId}'s answer is SVG: only PNG, JPEG and WebP images are stored (SD WebUI's samples_format setting png, jpg or webp)`,
    );
    expect((await objectsOf(job.job_id)).size).toBe(0);
    expect(await deps.jobs.get(job.job_id)).toMatchObject({ completed_images: 0, failed_images: 2 });
  });
});
