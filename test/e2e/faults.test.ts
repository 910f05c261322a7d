import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EmbeddedStack } from '../../local/stack.ts';
import { callTool, connectClient, startTestStack, waitForTerminal } from '../support/embedded.ts';
import {
  duplicates,
  listObjectKeys,
  type ResultData,
  type StatusData,
  sortedNumbers,
} from '../support/faults.ts';
import { tempDir } from '../support/temp-dir.ts';

/**
 * The simulator fails a fifth of its txt2img calls at random
 * while several jobs run at once. Every job must end, and every image the GPU host really
 * delivered must be listed once by sdreforge_batch_result and stored once in the bucket.
 */

interface JobSpec {
  batch_size: number;
  n_iter: number;
  seed: number;
}

interface Started extends JobSpec {
  job_id: string;
}

let dir: Awaited<ReturnType<typeof tempDir>>;
let stack: EmbeddedStack;
let client: Client;
/** Every job this file started: the bucket and the simulator's counters cover all of them. */
const allJobs: Started[] = [];

beforeAll(async () => {
  dir = await tempDir('sdbatch-faults-');
  stack = await startTestStack(dir.path, { SDBATCH_CONCURRENCY: '2' });
  client = await connectClient(stack);
  stack.simulator?.resetStats();
});
afterAll(async () => {
  await client?.close();
  await stack?.stop();
  await dir?.remove();
});

async function startJobs(specs: JobSpec[]): Promise<Started[]> {
  const started = await Promise.all(
    specs.map(async (spec) => {
      const { result, data } = await callTool<{ job_id: string; total_images: number; seed: number }>(
        client,
        'sdreforge_batch_start',
        { prompt: `faults ${spec.seed}`, steps: 3, width: 64, height: 64, ...spec },
      );
      expect(result.isError, JSON.stringify(result.content)).toBeFalsy();
      expect(data).toMatchObject({ total_images: spec.batch_size * spec.n_iter, seed: spec.seed });
      return { ...spec, job_id: data.job_id };
    }),
  );
  allJobs.push(...started);
  return started;
}

/** Checks one ended job against its status and result; returns its result. */
async function checkJob(job: Started, status: StatusData): Promise<ResultData> {
  const { result, data } = await callTool<ResultData>(client, 'sdreforge_batch_result', {
    job_id: job.job_id,
  });
  expect(result.isError, JSON.stringify(result.content)).toBeFalsy();
  const total = job.batch_size * job.n_iter;
  const label = `${job.job_id} (${job.batch_size}x${job.n_iter})`;

  expect(data.status, label).toBe(status.status);
  expect(data.total_images, label).toBe(total);
  expect(data.completed_images, label).toBe(data.files.length);
  expect(status.completed_images, label).toBe(data.files.length);
  expect(duplicates(data.files.map((f) => f.key)), `${label}: duplicate keys`).toEqual([]);
  expect(duplicates(data.files.map((f) => f.seed)), `${label}: duplicate seeds`).toEqual([]);
  for (const file of data.files) {
    // Image k of the job has seed base + k, k = iteration * batch_size + index.
    expect(file.seed, label).toBe(job.seed + file.iteration * job.batch_size + file.index);
    expect(file.key, label).toBe(
      `jobs/${job.job_id}/${String(file.iteration).padStart(3, '0')}-${file.index}.png`,
    );
  }

  // Every iteration either delivered its whole batch or is named as a failure, with its reason.
  const succeeded = new Set(data.files.map((f) => f.iteration));
  const failed = data.failures.map((f) => f.iteration);
  expect(duplicates(failed), label).toEqual([]);
  expect(
    failed.filter((i) => succeeded.has(i)),
    `${label}: an iteration both failed and succeeded`,
  ).toEqual([]);
  expect(succeeded.size + failed.length, label).toBe(job.n_iter);
  expect(data.files.length, label).toBe(succeeded.size * job.batch_size);
  expect(status.failed_images, label).toBe(failed.length * job.batch_size);
  for (const failure of data.failures) {
    expect(failure.error, label).toMatch(/^SdWebUi(Unavailable|Rejected)Error: \S/);
  }
  const expected = failed.length === 0 ? 'completed' : succeeded.size > 0 ? 'partial' : 'failed';
  expect(status.status, label).toBe(expected);
  return data;
}

/** images listed by result (all jobs) = objects in the bucket = images the simulator returned. */
async function checkAccounting(results: ResultData[], title: string): Promise<void> {
  const stats = stack.simulator?.stats();
  if (!stats) throw new Error('the test stack runs the built-in simulator');
  const listedKeys = results.flatMap((r) => r.files.map((f) => f.key));
  const objectKeys = await listObjectKeys(stack.stores.clients, stack.stores.bucketName, 'jobs/');
  const listedSeeds = results.flatMap((r) => r.files.map((f) => f.seed));
  const faultCalls = stats.requests - stats.succeeded;
  const busy = stats.busyIntervals.reduce((ms, b) => ms + (b.end - b.start), 0);
  const span =
    stats.busyIntervals.length > 0
      ? Math.max(...stats.busyIntervals.map((b) => b.end)) -
        Math.min(...stats.busyIntervals.map((b) => b.start))
      : 0;

  console.log(
    [
      `[faults] ${title}`,
      ...results.map(
        (r) =>
          `  ${r.job_id}: ${r.status}, ${r.files.length}/${r.total_images} images, ` +
          `failed iterations ${JSON.stringify(r.failures.map((f) => f.iteration))}`,
      ),
      `  txt2img calls ${stats.requests}: ${stats.succeeded} genuine, ${faultCalls} faulted ` +
        `(${((100 * faultCalls) / Math.max(1, stats.requests)).toFixed(1)}%)`,
      `  images listed by result ${listedKeys.length} | objects under jobs/ ${objectKeys.length} | ` +
        `returned by the simulator ${stats.imagesReturned}`,
      `  GPU host sampling ${(busy / 1000).toFixed(1)} s of the ${(span / 1000).toFixed(1)} s between its first and last call`,
    ].join('\n'),
  );

  expect(duplicates(listedKeys)).toEqual([]);
  expect(listedKeys.length).toBe(objectKeys.length);
  expect(new Set(objectKeys)).toEqual(new Set(listedKeys));
  expect(stats.imagesReturned).toBe(listedKeys.length);
  // The same images, not just the same number: each seed the host delivered is listed once.
  expect(sortedNumbers(listedSeeds)).toEqual(sortedNumbers(stats.seedsReturned));
}

describe('jobs under random GPU host faults', () => {
  it('ends every job and loses or duplicates no image when a fifth of txt2img calls fail', async () => {
    stack.simulator?.setFaults({
      errorRate: 0.08,
      dropRate: 0.05,
      malformedRate: 0.04,
      emptyRate: 0.03,
      // Three transient faults in a row rest the only GPU host for 30 s (core/pool/host-pool.ts):
      // this seed's draws never put 3 faults within 6 calls, so the run stays fast. Any seed passes.
      seed: 182,
    });
    const jobs = await startJobs([
      { batch_size: 2, n_iter: 8, seed: 1000 },
      { batch_size: 3, n_iter: 6, seed: 2000 },
      { batch_size: 1, n_iter: 10, seed: 3000 },
      { batch_size: 4, n_iter: 4, seed: 4000 },
    ]);
    const began = Date.now();
    // Generous: should three faults in a row rest the GPU host (30 s), the jobs still end.
    const statuses = await Promise.all(
      jobs.map((job) => waitForTerminal<StatusData>(client, job.job_id, { timeoutMs: 75_000 })),
    );
    console.log(`[faults] 4 jobs ended in ${((Date.now() - began) / 1000).toFixed(1)} s`);
    const results: ResultData[] = [];
    for (const [i, job] of jobs.entries()) results.push(await checkJob(job, statuses[i] as StatusData));

    const stats = stack.simulator?.stats();
    // The faults really happened, and were retried: more calls than iterations.
    expect(stats?.requests).toBeGreaterThan(jobs.reduce((n, j) => n + j.n_iter, 0));
    await checkAccounting(results, 'about 20% of calls faulted, 4 concurrent jobs');
  }, 90_000);

  it('names the failed iterations of a job that ends partial, and still accounts for every image', async () => {
    // Nearly half the calls are refused with a 422, which is never retried: those iterations
    // fail at once and the job ends partial. (Transient faults alone would rarely exhaust the
    // retries, and three in a row rest the only GPU host for 30 s.)
    stack.simulator?.setFaults({
      errorRate: 0.05,
      dropRate: 0,
      malformedRate: 0,
      emptyRate: 0,
      rejectRate: 0.45,
      seed: 7,
    });
    const [job] = await startJobs([{ batch_size: 1, n_iter: 16, seed: 5000 }]);
    if (!job) throw new Error('no job');
    const status = await waitForTerminal<StatusData>(client, job.job_id, { timeoutMs: 75_000 });
    const heavy = await checkJob(job, status);
    expect(status.status).toBe('partial');
    expect(heavy.failures.length).toBeGreaterThan(0);
    expect(heavy.failures.some((f) => /^SdWebUiRejectedError: .*422/.test(f.error))).toBe(true);
    expect(status.progress).toMatch(/ failed$/);

    stack.simulator?.setFaults({ errorRate: 0, dropRate: 0, malformedRate: 0, rejectRate: 0 });
    const results: ResultData[] = [];
    for (const each of allJobs) {
      const { data } = await callTool<ResultData>(client, 'sdreforge_batch_result', { job_id: each.job_id });
      results.push(data);
    }
    await checkAccounting(results, 'all jobs of this file, after a job with half its calls refused');
  }, 90_000);
});
