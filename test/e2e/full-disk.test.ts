import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it, type MockInstance, vi } from 'vitest';
import type { EmbeddedStack } from '../../local/stack.ts';
import { callTool, connectClient, sleep, startTestStack, waitForTerminal } from '../support/embedded.ts';
import {
  duplicates,
  listObjectKeys,
  type ResultData,
  type StatusData,
  sortedNumbers,
} from '../support/faults.ts';
import { tempDir } from '../support/temp-dir.ts';

/**
 * The embedded stack's data dir fills up mid-job. The disk is not really filled: the stores
 * thread dies of the error dynalite throws when LevelDB cannot write its log (what a full disk
 * did to an 800-image job), the free space the stack reads is the test's, and so is the probe's
 * timer. The stack must say why in one line, answer calls with it, and pick up the job once
 * there is room, with every image once.
 */

const BATCH_SIZE = 2;
const N_ITER = 12;
const TOTAL = BATCH_SIZE * N_ITER;
const BASE_SEED = 777_000;
const MIB = 1024 * 1024;

let dir: Awaited<ReturnType<typeof tempDir>>;
let stack: EmbeddedStack;
let client: Client;
let stderr: MockInstance<typeof console.error>;
const free = { bytes: 0 };
let probe: (() => unknown) | undefined;
const timer = {
  every: (_ms: number, tick: () => void) => {
    probe = tick;
    return () => {
      probe = undefined;
    };
  },
};

beforeAll(async () => {
  dir = await tempDir('sdbatch-full-');
  stack = await startTestStack(
    dir.path,
    // 2 images x 5 steps x 20 ms = 0.2 s an iteration: the job is caught half done.
    { SDBATCH_SIM_STEP_MS: '20' },
    { storesSupervision: { clock: timer, freeBytes: async () => free.bytes, minFreeBytes: 16 * MIB } },
  );
  client = await connectClient(stack);
});
afterAll(async () => {
  stderr?.mockRestore();
  await client?.close();
  await stack?.stop();
  await dir?.remove();
});

const status = (jobId: string) => callTool<StatusData>(client, 'sdreforge_batch_status', { job_id: jobId });
const textOf = (result: { content: unknown }) => JSON.stringify(result.content);

describe('a data dir that fills up mid-job', () => {
  it('says so in one line, answers calls with it, and finishes the job once there is room', async () => {
    const { data: started } = await callTool<{ job_id: string }>(client, 'sdreforge_batch_start', {
      prompt: 'a harbour on a full disk',
      batch_size: BATCH_SIZE,
      n_iter: N_ITER,
      steps: 5,
      width: 64,
      height: 64,
      seed: BASE_SEED,
    });
    const jobId = started.job_id;
    for (let i = 0; (await status(jobId)).data.completed_images < 4; i++) {
      if (i > 1000) throw new Error('no progress');
      await sleep(20);
    }
    const { data: before } = await callTool<ResultData>(client, 'sdreforge_batch_result', { job_id: jobId });

    stderr = vi.spyOn(console, 'error');
    stack.stores.injectFault({
      code: 'LEVEL_IO_ERROR',
      message: `IO error: ${dir.path}/dynamodb/000005.log: No space left on device`,
    });
    let down = await status(jobId);
    for (let i = 0; !down.result.isError; i++) {
      if (i > 500) throw new Error('the stack never noticed its stores stopped');
      await sleep(10);
      down = await status(jobId);
    }

    // One line on stderr, naming the cause and the data dir.
    const said = stderr.mock.calls.filter(([line]) => /stores/.test(String(line)));
    expect(said).toEqual([[expect.stringContaining(`the data dir ${dir.path} is full (ENOSPC`)]]);
    expect(said[0]?.[0]).not.toContain('\n');
    // Every call answers with it, not with "may be retried".
    const calls = {
      status: down.result,
      list: (await callTool(client, 'sdreforge_batch_list', {})).result,
      start: (await callTool(client, 'sdreforge_batch_start', { prompt: 'no room', width: 64, height: 64 }))
        .result,
    };
    for (const [name, result] of Object.entries(calls)) {
      expect(result.isError, name).toBe(true);
      expect(textOf(result), name).toContain(`the data dir ${dir.path} is full (ENOSPC`);
      expect(textOf(result), name).not.toMatch(/may be retried/);
    }
    const task = await client.experimental.tasks.getTask(jobId).then(
      () => 'no error',
      (error: Error) => error.message,
    );
    expect(task).toContain(`the data dir ${dir.path} is full (ENOSPC`);
    const health = await fetch(new URL('/health', stack.mcpUrl));
    expect(health.status).toBe(503);
    expect(await health.json()).toEqual({ ok: false, error: said[0]?.[0] });

    // Still full: nothing restarts.
    free.bytes = 15 * MIB;
    await probe?.();
    expect((await status(jobId)).result.isError).toBe(true);

    // Room again: the stores come back and the job resumes where it was.
    free.bytes = 16 * MIB;
    await probe?.();
    expect(probe).toBeUndefined();
    expect(stderr.mock.calls.map(([line]) => String(line))).toContain(
      `sdbatch's stores are back; resumed 1 unfinished job(s): ${jobId}.`,
    );
    expect((await fetch(new URL('/health', stack.mcpUrl))).status).toBe(200);
    const end = await waitForTerminal<StatusData>(client, jobId, { timeoutMs: 30_000, pollMs: 50 });
    expect(end).toMatchObject({ status: 'completed', completed_images: TOTAL, failed_images: 0 });

    const { data: after } = await callTool<ResultData>(client, 'sdreforge_batch_result', { job_id: jobId });
    expect(duplicates(after.files.map((f) => f.key))).toEqual([]);
    expect(sortedNumbers(after.files.map((f) => f.seed))).toEqual(
      Array.from({ length: TOTAL }, (_, k) => BASE_SEED + k),
    );
    // Nothing stored before the stop was lost or changed.
    const afterByKey = new Map(after.files.map((f) => [f.key, f.seed]));
    for (const file of before.files) expect(afterByKey.get(file.key), file.key).toBe(file.seed);
    const objects = await listObjectKeys(stack.stores.clients, stack.stores.bucketName, `jobs/${jobId}/`);
    expect(objects.filter((key) => key.endsWith('.png')).sort()).toEqual(
      after.files.map((f) => f.key).sort(),
    );
  });
});
