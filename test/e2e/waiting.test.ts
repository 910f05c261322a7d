import { DeleteCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterEach, describe, expect, it } from 'vitest';
import { documentClient } from '../../adapters/aws-clients.ts';
import type { EmbeddedStack } from '../../local/stack.ts';
import type { Timers } from '../../local/step-functions/task-tokens.ts';
import { callTool, openTestStack, sleep, waitForTerminal } from '../support/embedded.ts';

/**
 * A job waiting for the GPU pool waits in a callback task, one for the whole job. However long it waits, its
 * history does not grow; it is woken by whoever frees a slot, or by its heartbeat lapsing when
 * that wake-up is lost; a cancelled waiter is dropped from the queue.
 */

interface Status {
  status: string;
  completed_images: number;
  failed_images: number;
}

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

const job = (prompt: string, nIter: number) => ({ prompt, steps: 10, width: 64, height: 64, n_iter: nIter });

async function start(client: Client, args: Record<string, unknown>): Promise<string> {
  const { data } = await callTool<{ job_id: string }>(client, 'sdreforge_batch_start', args);
  return data.job_id;
}

const status = async (client: Client, jobId: string) =>
  (await callTool<Status>(client, 'sdreforge_batch_status', { job_id: jobId })).data;

/** Polls until `done` holds; the stack's own progress is the clock, there is no fixed sleep. */
async function until(done: () => Promise<boolean> | boolean, what: string, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

const historyOf = (stack: EmbeddedStack, jobId: string) =>
  stack.orchestrator.historyOf(jobId)?.historyEvents ?? 0;

/** The pool's queue items of a job, read straight from the table. */
async function waiterItems(stack: EmbeddedStack, jobId: string) {
  const db = documentClient(stack.stores.clients);
  const { Items = [] } = await db.send(
    new QueryCommand({
      TableName: stack.stores.tableName,
      KeyConditionExpression: 'pk = :queue',
      ExpressionAttributeValues: { ':queue': 'POOL#default#QUEUE' },
      ConsistentRead: true,
    }),
  );
  // Its place in line and, once its wait has registered, its token apart.
  return { db, items: Items.filter((i) => String(i.sk).includes(`#${jobId}#`)) };
}

/**
 * A stack whose one host runs a first job of `size` iterations, and a second job as big, started
 * once the first has made an image: behind it in line, it waits for a slot.
 */
async function oneJobWaitingBehindAnother(size: number, overrides: Parameters<typeof openTestStack>[1] = {}) {
  const opened = await openTestStack({ SDBATCH_SIM_STEP_MS: '3' }, overrides);
  close = opened.close;
  const { stack, client } = opened;
  const first = await start(client, job('first', size));
  await until(async () => (await status(client, first)).completed_images >= 1, 'the first job to run');
  const second = await start(client, job('second', size));
  await until(() => stack.orchestrator.tokens.waiting === 1, 'the second job to wait for a slot');
  return { stack, client, first, second };
}

describe('a job waiting behind another', () => {
  it('adds no history event while it waits, however long, and both jobs complete', async () => {
    const { stack, client, first, second } = await oneJobWaitingBehindAnother(40);
    // Settled into its wait (the first job a few images further), the waiter's history is read...
    const waitedAt = (await status(client, first)).completed_images;
    await until(
      async () => (await status(client, first)).completed_images >= waitedAt + 3,
      'three more images',
    );
    const atStart = {
      history: historyOf(stack, second),
      firstDone: (await status(client, first)).completed_images,
    };
    await until(
      async () => (await status(client, first)).completed_images >= atStart.firstDone + 25,
      'the first job to make 25 more images',
    );
    // 25 iterations of the other job later, the waiter's history has not moved.
    expect(stack.orchestrator.tokens.waiting).toBe(1);
    expect(historyOf(stack, second)).toBe(atStart.history);
    expect((await status(client, second)).completed_images).toBe(0);

    expect(await waitForTerminal<Status>(client, first)).toMatchObject({
      status: 'completed',
      completed_images: 40,
    });
    expect(await waitForTerminal<Status>(client, second)).toMatchObject({
      status: 'completed',
      completed_images: 40,
    });
    const ended = { first: historyOf(stack, first), second: historyOf(stack, second) };
    // Every job passes its admission once, at once or after a wait: the second job's wait added no
    // event to its history (it is as short as the first's, give or take a runner's), not one a second.
    expect(ended.first).toBeLessThan(40);
    expect(ended.second).toBeLessThan(40);
    expect(Math.abs(ended.second - ended.first)).toBeLessThan(10);
  });

  it('is woken by its heartbeat lapsing when the wake-up is lost, and completes', async () => {
    const heartbeats: Array<{ run: () => void; ms: number; live: boolean }> = [];
    const timers: Timers = {
      set: (run, ms) => {
        const timer = { run, ms, live: true };
        heartbeats.push(timer);
        return timer;
      },
      clear: (timer) => {
        (timer as { live: boolean }).live = false;
      },
    };
    const { stack, client, first, second } = await oneJobWaitingBehindAnother(12, { taskTimers: timers });
    // Once it is in the queue with its token, the worker that would wake it is gone with its
    // wake-up: the queue no longer names it.
    await until(
      async () => (await waiterItems(stack, second)).items.some((i) => i.token),
      'its token in the queue',
    );
    const { db, items } = await waiterItems(stack, second);
    // One place for the whole job (it waits to be admitted), and its token.
    expect(items.map((i) => String(i.sk).split('#')[0]).sort()).toEqual(['LINE', 'TOKEN']);
    for (const item of items) {
      await db.send(
        new DeleteCommand({ TableName: stack.stores.tableName, Key: { pk: item.pk, sk: item.sk } }),
      );
    }
    expect(await waitForTerminal<Status>(client, first)).toMatchObject({ status: 'completed' });
    // Nobody will free a slot for it now: only its heartbeat clock can end the wait.
    await sleep(100);
    expect(stack.orchestrator.tokens.waiting).toBe(1);
    expect((await status(client, second)).completed_images).toBe(0);
    // Waiting for admission: no heartbeat comes, so its hour runs out and it takes its place again.
    const lapse = heartbeats.filter((t) => t.live && t.ms === 3_600_000);
    expect(lapse).toHaveLength(1);
    lapse[0]?.run();
    expect(await waitForTerminal<Status>(client, second)).toMatchObject({
      status: 'completed',
      completed_images: 12,
    });
  });

  it('leaves the queue when cancelled, and the next job is not held back by it', async () => {
    const { stack, client, first, second: cancelled } = await oneJobWaitingBehindAnother(15);
    const third = await start(client, job('third', 15));
    await until(() => stack.orchestrator.tokens.waiting === 2, 'the third job to wait');
    await callTool(client, 'sdreforge_batch_cancel', { job_id: cancelled });
    expect(stack.orchestrator.tokens.waiting).toBe(1);
    expect(await waitForTerminal<Status>(client, first)).toMatchObject({ status: 'completed' });
    expect(await waitForTerminal<Status>(client, third)).toMatchObject({
      status: 'completed',
      completed_images: 15,
    });
    expect((await status(client, cancelled)).status).toBe('cancelled');
    expect((await waiterItems(stack, cancelled)).items).toEqual([]);
  });
});

describe('a GPU host that fails every call', () => {
  it('fails each iteration after its tries, counted across rests and runs, so the job ends', async () => {
    const opened = await openTestStack(
      { SDBATCH_SIM_STEP_MS: '1', SDBATCH_SIM_FAULTS: JSON.stringify({ errorRate: 1 }) },
      { hostRestMs: 50 },
    );
    close = opened.close;
    const { stack, client } = opened;
    const id = await start(client, job('hopeless', 3));
    expect(await waitForTerminal<Status>(client, id)).toMatchObject({ status: 'failed', failed_images: 3 });
    // 1 + 3 tries per iteration, however often the host rested in between: 12 calls in all.
    expect(stack.simulator?.stats().requests).toBe(12);
  });

  it('beside a healthy host: the job completes on the healthy one', async () => {
    const opened = await openTestStack(
      { SDBATCH_SIM_STEP_MS: '1', SDBATCH_SIM_HOSTS: '2' },
      { hostRestMs: 50 },
    );
    close = opened.close;
    const { stack, client } = opened;
    const [healthy, failing] = stack.simulators;
    failing?.setFaults({ errorRate: 1 });
    const id = await start(client, job('one host down', 8));
    expect(await waitForTerminal<Status>(client, id)).toMatchObject({
      status: 'completed',
      completed_images: 8,
      failed_images: 0,
    });
    expect(healthy?.stats().imagesReturned).toBe(8);
    // The failing host was tried (the pool spreads work), and nothing it answered was kept.
    expect(failing?.stats().requests).toBeGreaterThan(0);
    expect(failing?.stats().imagesReturned).toBe(0);
  });
});
