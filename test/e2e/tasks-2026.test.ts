import type { Client } from '@modelcontextprotocol/client';
import type { TaskEnabledSession, TaskView } from '@modelcontextprotocol/ext-tasks/client';
import type { JsonValue, TaskId } from '@modelcontextprotocol/ext-tasks/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EmbeddedStack } from '../../local/stack.ts';
import {
  openTestStack,
  otherCallerToken,
  sleep,
  TERMINAL_STATUSES,
  TOOL_NAMES,
} from '../support/embedded.ts';
import { connectModernClient, MODERN_ENVELOPE, postModern, taskSession } from '../support/modern-client.ts';

/**
 * Protocol 2026-07-28 through the official v2 client, and its tasks extension
 * (io.modelcontextprotocol/tasks) through the ext-tasks requester: a start taken as a task whose
 * id is the job id, its progress, final result and cancellation, all read from the job records.
 */

let stack: EmbeddedStack;
let client: Client;
let session: TaskEnabledSession;
let close: () => Promise<void>;

beforeAll(async () => {
  ({ stack, close } = await openTestStack(
    { SDBATCH_SIM_STEP_MS: '5' },
    { progressPollMs: 10, progressWriteMs: 20 },
  ));
  client = await connectModernClient(stack);
  session = taskSession(stack, client);
});
afterAll(async () => {
  await session?.close();
  await client?.close();
  await close?.();
});

const START = 'sdreforge_batch_start';
const JOB_ID = /^job_\d{8}_[a-z2-7]{10}$/;
const SMALL = { width: 64, height: 64, batch_size: 1 };
/** Long enough to be caught running: 30 iterations of 20 steps, two at a time. */
const LONG = { ...SMALL, prompt: 'a long task', steps: 20, n_iter: 30 };

type Structured = Record<string, unknown> & { job_id: string; status: string };
async function call(c: Client, name: string, args: Record<string, unknown>) {
  const result = await c.callTool({ name, arguments: args });
  return { result, data: result.structuredContent as Structured };
}

/** Starts the job as a task and returns its id: the job id. */
async function startTask(s: TaskEnabledSession, args: Record<string, JsonValue>): Promise<TaskId> {
  const execution = await s.callTool(START, args, { task: { preference: 'require' } });
  if (execution.kind !== 'task') throw new Error('the start was not answered with a task');
  const { taskId } = execution.handle;
  await execution.detach();
  return taskId;
}

async function pollTask(s: TaskEnabledSession, taskId: TaskId, until: (t: TaskView) => boolean) {
  const seen: TaskView[] = [];
  for (let i = 0; i < 1500; i++) {
    const task = await s.task(taskId).snapshot();
    seen.push(task);
    if (until(task)) return seen;
    await sleep(10);
  }
  throw new Error(`task ${taskId} never reached the expected state: ${JSON.stringify(seen.at(-1)?.raw)}`);
}

const ended = (t: TaskView) => ['completed', 'failed', 'cancelled'].includes(t.status);
const doneImages = (t: TaskView) =>
  Number(/(\d+)\/\d+ images completed/.exec(t.statusMessage ?? '')?.[1] ?? -1);
const errorOf = (promise: Promise<unknown>): Promise<string> =>
  promise.then(
    () => 'no error',
    (error: Error) => error.message,
  );

describe('a 2026-07-28 client', () => {
  it('speaks 2026-07-28 without initialize and sees the tasks extension', () => {
    expect(client.getProtocolEra()).toBe('modern');
    expect(client.getServerCapabilities()?.extensions).toEqual({ 'io.modelcontextprotocol/tasks': {} });
  });

  it('without the extension, runs a job with the plain tools: start, status, result', async () => {
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(TOOL_NAMES);
    const { data: started } = await call(client, START, { ...SMALL, prompt: 'modern', steps: 2, n_iter: 3 });
    expect(started).toMatchObject({ job_id: expect.stringMatching(JOB_ID), status: 'pending' });
    let status = started.status;
    for (let i = 0; i < 1500 && !TERMINAL_STATUSES.includes(status); i++) {
      await sleep(20);
      status = (await call(client, 'sdreforge_batch_status', { job_id: started.job_id })).data.status;
    }
    expect(status).toBe('completed');
    const { data: result } = await call(client, 'sdreforge_batch_result', { job_id: started.job_id });
    expect(result.files).toHaveLength(3);
  });
});

describe('the tasks extension', () => {
  it('takes a start as a task named by its job id; tasks/get reports progress, then the whole result', async () => {
    const execution = await session.callTool(
      START,
      { ...SMALL, prompt: 'a task', steps: 20, n_iter: 12 },
      { task: { preference: 'require' } },
    );
    expect(execution.kind).toBe('task');
    if (execution.kind !== 'task') throw new Error('no task');
    const { taskId } = execution.handle;
    expect(taskId).toMatch(JOB_ID);
    await execution.detach();

    const first = await session.task(taskId).snapshot();
    expect(first.status).toBe('working');
    expect(first.statusMessage).toMatch(/^(pending: )?\d+\/12 images completed(, ETA .+)?$/);
    expect(first.suggestedPollIntervalMs).toBeGreaterThan(0);
    // Kept as long as the job: the default retention, from creation.
    expect(first.retentionMs).toBeGreaterThan(7 * 86_400_000 - 1000);

    const seen = await pollTask(session, taskId, ended);
    const working = seen.filter((t) => t.status === 'working').map(doneImages);
    expect(
      working.some((n) => n > 0 && n < 12),
      `progress seen: ${working}`,
    ).toBe(true);
    expect(seen.some((t) => /, ETA /.test(t.statusMessage ?? ''))).toBe(true);
    const last = seen.at(-1) as TaskView;
    expect(last).toMatchObject({ status: 'completed', statusMessage: '12/12 images completed' });
    expect(last.suggestedPollIntervalMs).toBeUndefined();

    const outcome = await session.task(taskId).result();
    if (outcome.status !== 'completed') throw new Error(`task ended ${JSON.stringify(outcome)}`);
    const structured = outcome.result.structuredContent as { job_id: string; files: Array<{ url: string }> };
    expect(structured).toMatchObject({ job_id: taskId, status: 'completed', total_images: 12 });
    expect(structured.files).toHaveLength(12);
    expect((await fetch(structured.files[0]?.url ?? '')).status).toBe(200);
  });

  it('refuses a bad start with the tool error a plain call gets, and no task', async () => {
    const execution = await session.callTool(
      START,
      { prompt: 'x', preset: 'no-such-preset' },
      { task: { preference: 'allow' } },
    );
    expect(execution.kind).toBe('immediate');
    const outcome = await execution.result();
    if (outcome.status !== 'completed') throw new Error(`call ended ${outcome.status}`);
    expect(outcome.result.isError).toBe(true);
    expect(JSON.stringify(outcome.result.content)).toMatch(/unknown preset \\"no-such-preset\\"/);
  });

  it('cancels the job on tasks/cancel, keeping the images made', async () => {
    const taskId = await startTask(session, LONG);
    await pollTask(session, taskId, (t) => doneImages(t) >= 2);
    await session.task(taskId).cancel();
    expect((await call(client, 'sdreforge_batch_status', { job_id: taskId })).data.status).toBe('cancelled');
    const task = await session.task(taskId).snapshot();
    expect(task.status).toBe('cancelled');
    expect(task.statusMessage).toMatch(/^cancelled: \d+\/30 images completed/);
    expect(await errorOf(session.task(taskId).cancel())).toMatch(
      /Cannot cancel task in terminal status: cancelled/,
    );
  });

  it('answers wrongly typed task params with InvalidParams naming the field, and changes nothing', async () => {
    const taskId = await startTask(session, LONG);
    let id = 1;
    const ask = async (method: string, params: Record<string, unknown>) => {
      const answer = await postModern(stack, {
        id: id++,
        method,
        params: { ...params, _meta: MODERN_ENVELOPE },
      });
      return answer.kind === 'error' ? { code: answer.error.code, message: answer.error.message } : answer;
    };
    expect({
      get: await ask('tasks/get', { taskId: 5 }),
      cancel: await ask('tasks/cancel', { taskId: { id: taskId } }),
      missing: await ask('tasks/get', {}),
    }).toEqual({
      get: {
        code: -32602,
        message: 'Invalid params for tasks/get: taskId: Invalid input: expected string, received number',
      },
      cancel: {
        code: -32602,
        message: 'Invalid params for tasks/cancel: taskId: Invalid input: expected string, received object',
      },
      missing: {
        code: -32602,
        message: 'Invalid params for tasks/get: taskId: Invalid input: expected string, received undefined',
      },
    });
    // The extension has no tasks/result or tasks/list (tasks/get carries the result): not found, whatever the params.
    for (const method of ['tasks/result', 'tasks/list']) {
      expect(await ask(method, { taskId: 5, cursor: {} }), method).toEqual({
        code: -32601,
        message: 'Method not found',
      });
    }
    expect((await session.task(taskId).snapshot()).status).toBe('working');
    await session.task(taskId).cancel();
  });

  it("answers another caller's task exactly as one that does not exist", async () => {
    const token = await otherCallerToken(stack, 'tasks-2026-other');
    const otherClient = await connectModernClient(stack, token);
    const other = taskSession(stack, otherClient, token);
    try {
      const taskId = await startTask(session, LONG);
      const missing = 'job_20261124_zzzzzzzzzz' as TaskId;
      for (const [name, ask] of Object.entries({
        get: (id: TaskId) => other.task(id).snapshot(),
        cancel: (id: TaskId) => other.task(id).cancel(),
      })) {
        const theirs = await errorOf(ask(taskId));
        const none = await errorOf(ask(missing));
        expect(theirs, name).toMatch(/Task not found/);
        expect(theirs.replace(taskId, 'ID'), name).toBe(none.replace(missing, 'ID'));
      }
      expect(await errorOf(other.task('not a job id' as TaskId).snapshot())).toMatch(/Task not found/);
      // The other caller's cancel changed nothing.
      expect((await session.task(taskId).snapshot()).status).toBe('working');
      await session.task(taskId).cancel();
    } finally {
      await other.close();
      await otherClient.close();
    }
  });
});
