import type { ChildProcess } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClientOptions } from '../../adapters/aws-clients.ts';
import { STACK_ROLE } from '../../lambdas/function-roles.ts';
import { BUCKET_NAME } from '../../local/embedded-stores.ts';
import { loadRoleCredentials } from '../../local/store-credentials.ts';
import { callTool, sleep, waitForTerminal } from '../support/embedded.ts';
import {
  duplicates,
  listObjectKeys,
  type ResultData,
  type StatusData,
  sortedNumbers,
} from '../support/faults.ts';
import { MAIN, type SpawnedStack, spawnStack } from '../support/spawned-stack.ts';
import { tempDir } from '../support/temp-dir.ts';

/**
 * The embedded stack, run exactly as `npm start` runs it, is
 * killed with SIGKILL in the middle of a job and started again on the same data dir. It must
 * resume the job and finish it with every image exactly once.
 */

const BATCH_SIZE = 2;
const N_ITER = 10;
const TOTAL = BATCH_SIZE * N_ITER;
const BASE_SEED = 424_242;

const children: ChildProcess[] = [];
let dir: Awaited<ReturnType<typeof tempDir>>;

beforeAll(async () => {
  dir = await tempDir('sdbatch-sigkill-');
});
afterAll(async () => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
  }
  await dir?.remove();
});

/** `npm start`'s command (`node local/main.ts`) on a free port and the test's data dir. */
async function startChild(): Promise<SpawnedStack> {
  const running = await spawnStack(process.execPath, [MAIN], {
    SDBATCH_PORT: '0',
    SDBATCH_DATA_DIR: dir.path,
    // 2 images x 5 steps x 40 ms = 0.4 s per iteration: the 10 iterations take about 4 s.
    SDBATCH_SIM_STEP_MS: '40',
  });
  children.push(running.child);
  return running;
}

async function connect(running: SpawnedStack): Promise<Client> {
  const client = new Client({ name: 'sdbatch-sigkill-test', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(running.mcpUrl), {
      requestInit: { headers: { Authorization: `Bearer ${running.token}` } },
    }),
  );
  return client;
}

async function kill9(child: ChildProcess): Promise<void> {
  const exited = new Promise<unknown>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
  child.kill('SIGKILL');
  expect(await exited).toBe('SIGKILL');
}

/** Object files s3rver keeps on disk for the job's images (a second view of the bucket). */
async function objectFilesOnDisk(jobId: string): Promise<number> {
  const folder = join(dir.path, 's3', BUCKET_NAME, 'jobs', jobId);
  const names = await readdir(folder).catch(() => [] as string[]);
  return names.filter((name) => name.endsWith('._S3rver_object')).length;
}

describe('the embedded stack killed with SIGKILL mid-job', () => {
  it('resumes the job after a restart on the same data dir and makes every image exactly once', async () => {
    // First life: start a job and kill the stack once some, not all, of its images exist.
    const first = await startChild();
    const firstClient = await connect(first);
    const { result: startResult, data: started } = await callTool<{ job_id: string; seed: number }>(
      firstClient,
      'sdreforge_batch_start',
      {
        prompt: 'a lighthouse that survives a crash',
        batch_size: BATCH_SIZE,
        n_iter: N_ITER,
        steps: 5,
        width: 64,
        height: 64,
        seed: BASE_SEED,
      },
    );
    expect(startResult.isError, JSON.stringify(startResult.content)).toBeFalsy();
    const jobId = started.job_id;

    let atKill: StatusData | undefined;
    const deadline = Date.now() + 20_000;
    while (!atKill) {
      const { data } = await callTool<StatusData>(firstClient, 'sdreforge_batch_status', { job_id: jobId });
      if (data.completed_images >= TOTAL / 2 - 2) atKill = data;
      else if (Date.now() > deadline) throw new Error(`no progress before the kill: ${JSON.stringify(data)}`);
      else await sleep(30);
    }
    expect(atKill.status).toBe('running');
    expect(atKill.completed_images).toBeLessThan(TOTAL - 4);
    // What had been recorded when the process died; the kill follows at once.
    const { data: before } = await callTool<ResultData>(firstClient, 'sdreforge_batch_result', {
      job_id: jobId,
    });
    await kill9(first.child);
    await firstClient.close().catch(() => {});
    expect(before.files.length).toBeGreaterThanOrEqual(atKill.completed_images);
    expect(before.files.length).toBeLessThan(TOTAL);

    // Second life: same data dir, a new port; it says it resumed the job and finishes it.
    const second = await startChild();
    expect(second.mcpUrl).not.toBe(first.mcpUrl);
    expect(second.token).toBe(first.token);
    expect(second.stdout()).toContain(`Resumed 1 unfinished job(s): ${jobId}`);
    const client = await connect(second);
    const end = await waitForTerminal<StatusData>(client, jobId, { timeoutMs: 30_000, pollMs: 50 });
    expect(end).toMatchObject({ status: 'completed', completed_images: TOTAL, failed_images: 0 });

    const { data: after } = await callTool<ResultData>(client, 'sdreforge_batch_result', { job_id: jobId });
    expect(after).toMatchObject({ status: 'completed', completed_images: TOTAL, total_images: TOTAL });
    expect(after.failures).toEqual([]);
    const keys = after.files.map((f) => f.key);
    expect(duplicates(keys)).toEqual([]);
    expect(sortedNumbers(after.files.map((f) => f.seed))).toEqual(
      Array.from({ length: TOTAL }, (_, k) => BASE_SEED + k),
    );
    // Nothing recorded before the kill was lost or changed.
    const afterByKey = new Map(after.files.map((f) => [f.key, f.seed]));
    for (const file of before.files) expect(afterByKey.get(file.key), file.key).toBe(file.seed);

    // The second life's GPU host made only what was missing: no recorded image was made twice.
    const simStats = (await (await fetch(`${second.sdWebUiUrl}/sim/stats`)).json()) as {
      imagesReturned: number;
      seedsReturned: number[];
    };
    const recordedBefore = new Set(before.files.map((f) => f.seed));
    expect(simStats.seedsReturned.filter((seed) => recordedBefore.has(seed))).toEqual([]);
    expect(simStats.imagesReturned).toBeLessThanOrEqual(TOTAL - before.files.length);

    // The bucket, read through the new child's store front (its endpoint is in the presigned
    // URLs) with the stack's own keys from the data dir.
    const s3Origin = new URL(after.files[0]?.url ?? '').origin;
    const clients: ClientOptions = {
      region: 'us-east-1',
      s3Endpoint: s3Origin,
      credentials: (await loadRoleCredentials(dir.path))[STACK_ROLE],
    };
    const objects = await listObjectKeys(clients, BUCKET_NAME, `jobs/${jobId}/`);
    expect(new Set(objects)).toEqual(new Set(keys));
    expect(objects).toHaveLength(TOTAL);
    const onDisk = await objectFilesOnDisk(jobId);
    expect(onDisk).toBe(TOTAL);
    // Every listed image downloads.
    const statuses = await Promise.all(after.files.map(async (f) => (await fetch(f.url)).status));
    expect(statuses.every((s) => s === 200)).toBe(true);

    console.log(
      [
        `[sigkill] ${jobId}: ${BATCH_SIZE}x${N_ITER} images, seeds ${BASE_SEED}..${BASE_SEED + TOTAL - 1}`,
        `  killed at ${atKill.completed_images}/${TOTAL} completed (${before.files.length} listed by result just before SIGKILL)`,
        `  after restart: ${end.status}, ${after.files.length} listed by result | ${objects.length} objects in the bucket | ` +
          `${onDisk} object files on disk | ${new Set(keys).size} distinct keys`,
        `  images the restarted host made: ${simStats.imagesReturned} (none of the ${recordedBefore.size} recorded before the kill)`,
      ].join('\n'),
    );

    await client.close();
    const exited = new Promise<unknown>((resolve) => second.child.once('exit', (code) => resolve(code)));
    second.child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
