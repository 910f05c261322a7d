import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RunPausedError, SdWebUiUnavailableError } from '../../../core/errors.ts';
import type { JobRecord } from '../../../core/job.ts';
import { REST_MS } from '../../../core/pool/host-pool.ts';
import type { ImageStore, SdProgress, SdWebUi, Txt2ImgResult } from '../../../core/ports.ts';
import { toStatusView } from '../../../core/status-view.ts';
import { generateRun, type RunDeps } from '../../../core/workflow/generate-run.ts';
import { encodePng } from '../../../local/simulator/png.ts';
import { InMemoryJobStore } from '../../support/in-memory-job-store.ts';
import { generationParams, jobRecord } from '../../support/job-fixtures.ts';
import { RecordingPool } from '../../support/recording-pool.ts';

/**
 * A job on a pool whose only host cannot work, at the pool's real settings (4 tries, back-off
 * 2 s doubling to 30 s, a 30 s rest after 3 failures, OUTAGE_MS, HANG_MS) and a Lambda's (870 s
 * a task, calls of a large job allowed 14 minutes), on fake timers: the bounds are minutes of the
 * fake clock, reached in a moment.
 */

const HOST = 'gpu:7860';
/** A real 1x1 PNG: what is stored must be an image (core/image-format). */
const PNG = encodePng({ width: 1, height: 1, rgb: new Uint8Array(3), text: {} });

const ERROR_500 = 'POST /sdapi/v1/txt2img answered 500: OutOfMemoryError: CUDA out of memory';
const IDLE: SdProgress = { progress: 0, step: 0, steps: 0, jobTimestamp: null, interrupted: false };

/** How the host answers a txt2img call at a given moment. */
type Behaviour = 'fail' | 'hang' | 'work';

/** An SD WebUI that fails, hangs (answers /progress as idle, never the call) or works, as told. */
function host(behaviour: () => Behaviour) {
  const calls = { txt2img: 0 };
  const sd: SdWebUi = {
    txt2img: (payload, signal) => {
      calls.txt2img++;
      const now = behaviour();
      if (now === 'fail') return Promise.reject(new SdWebUiUnavailableError(ERROR_500));
      if (now === 'hang') {
        return new Promise<Txt2ImgResult>((_, reject) =>
          signal?.addEventListener('abort', () => reject(signal.reason), { once: true }),
        );
      }
      const seed = Number(payload.seed);
      const size = Number(payload.batch_size);
      return Promise.resolve({
        images: Array.from({ length: size }, () => PNG),
        seeds: Array.from({ length: size }, (_, i) => seed + i),
        subseeds: [],
        infotexts: [],
      });
    },
    progress: async () => IDLE,
    interrupt: async () => {},
    scriptTitles: async () => [],
    checkpoints: async () => [],
    samplers: async () => ['Euler a', 'DPM++ 2M'],
    schedulers: async () => ['Automatic', 'Karras'],
    upscalers: async () => ['Latent', 'R-ESRGAN 4x+'],
    adetailerModels: async () => undefined,
    controlNetModels: async () => undefined,
  };
  return { sd, calls };
}

const images: ImageStore = {
  put: async () => {},
  get: async () => new Uint8Array(),
  exists: async () => false,
  presignGet: async () => ({ url: '', expiresAt: new Date() }),
};

async function runJob(nIter: number, behaviour: () => Behaviour, batchSize = 1) {
  const jobs = new InMemoryJobStore();
  const job: JobRecord = jobRecord({
    params: generationParams({ n_iter: nIter, batch_size: batchSize, seed: 1000 }),
    total_images: nIter * batchSize,
    created_at: new Date().toISOString(),
    started_at: new Date().toISOString(),
  });
  await jobs.create(job);
  const pool = new RecordingPool(HOST, 2);
  pool.restMs = REST_MS;
  const { sd, calls } = host(behaviour);
  const deps: RunDeps = {
    jobs,
    images,
    pool,
    hosts: new Map([[HOST, sd]]),
    fetcher: { fetch: async () => new Uint8Array(), check: async () => {} } as never,
    now: () => new Date(),
    progressPollMs: 1000,
    progressWriteMs: 5000,
    callTimeoutMs: () => 840_000,
    iterationRetry: { attempts: 4, firstDelayMs: 2000, maxDelayMs: 30_000 },
  };
  const began = Date.now();
  let ended: number | undefined;
  let failure: unknown;
  // As the state machine runs it: a task has a Lambda's 870 s, and one that pauses starts again.
  const run = async () => {
    for (;;) {
      try {
        return await generateRun({ job_id: job.job_id, runner: 0, runners: 1 }, deps, Date.now() + 870_000);
      } catch (error) {
        if (!(error instanceof RunPausedError)) throw error;
      }
    }
  };
  run().then(
    () => {
      ended = Date.now();
    },
    (error) => {
      failure = error;
      ended = Date.now();
    },
  );
  // A second at a time, for at most an hour of the fake clock.
  for (let s = 0; s < 3600 && ended === undefined; s++) await vi.advanceTimersByTimeAsync(1000);
  if (failure) throw failure;
  const record = (await jobs.get(job.job_id)) as JobRecord;
  return {
    minutes: ended === undefined ? Number.POSITIVE_INFINITY : (ended - began) / 60_000,
    record,
    iterations: await jobs.listIterations(job.job_id),
    calls,
  };
}

beforeEach(() => {
  vi.useFakeTimers({ now: new Date('2026-12-07T20:00:00.000Z') });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('a job on a pool with no host able to work', () => {
  it('fails every iteration of a 100-iteration job on an always-failing host within 5 minutes, naming its error', async () => {
    const { minutes, record, iterations, calls } = await runJob(100, () => 'fail');
    console.log(
      `[dead pool] failing host: 100 iterations ended in ${minutes.toFixed(1)} min, ${calls.txt2img} calls`,
    );
    expect(minutes).toBeLessThanOrEqual(5);
    expect(record).toMatchObject({ completed_images: 0, failed_images: 100 });
    expect(iterations).toHaveLength(100);
    for (const it of iterations) {
      expect(it.status).toBe('failed');
      expect(it.error?.message).toContain(ERROR_500);
    }
    // Given up on, not each tried 4 times with rests (400 calls, about 2 hours).
    expect(calls.txt2img).toBeLessThan(40);
    expect(
      iterations.filter((it) => /no GPU host completed a call for/.test(it.error?.message ?? '')).length,
    ).toBeGreaterThan(90);
  });

  it('fails a 10-iteration job on a hanging host within 10 minutes, saying the host hung', async () => {
    const { minutes, record, iterations } = await runJob(10, () => 'hang');
    console.log(`[dead pool] hanging host: 10 iterations ended in ${minutes.toFixed(1)} min`);
    expect(minutes).toBeLessThanOrEqual(10);
    expect(record).toMatchObject({ completed_images: 0, failed_images: 10 });
    for (const it of iterations) {
      expect(it.error?.message).toContain(`GPU host ${HOST} showed no request running for`);
    }
  });

  it('loses and doubles nothing when the host fails for under a minute, then works again', async () => {
    const start = Date.now();
    const { record, iterations } = await runJob(20, () => (Date.now() - start < 50_000 ? 'fail' : 'work'), 2);
    expect(record).toMatchObject({ completed_images: 40, failed_images: 0 });
    expect(record.outage).toBeUndefined();
    expect(iterations.map((it) => it.iteration)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    for (const it of iterations) {
      expect(it.status).toBe('succeeded');
      expect(it.images.map((image) => image.seed)).toEqual([
        1000 + 2 * it.iteration,
        1001 + 2 * it.iteration,
      ]);
    }
  });

  it('says in status what the job waits for while its host fails, not a time left', async () => {
    const start = Date.now();
    // Three iterations: all given up on; the job, not yet finalized, keeps the outage it saw.
    const { record } = await runJob(3, () => 'fail');
    expect(record.outage).toMatchObject({ since: start, hosts: [{ host_id: HOST, last_error: ERROR_500 }] });
    const view = toStatusView({ ...record, failed_images: 0 }, new Date(start + 90_000));
    expect(view.estimated_remaining).toBe(
      `waiting for a GPU host: ${HOST} failing since 20:00:00Z (1m 30s), last error: ${ERROR_500}`,
    );
    expect(view.estimated_remaining_seconds).toBeNull();
    expect(view.poll_after_seconds).toBeGreaterThan(0);
  });
});
