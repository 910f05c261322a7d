import type { AddressInfo } from 'node:net';
import { type ServerType, serve } from '@hono/node-server';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { ResponseMessage } from '@modelcontextprotocol/sdk/shared/responseMessage.js';
import {
  type CallToolResult,
  CallToolResultSchema,
  EmptyResultSchema,
  type McpError,
  type Task,
} from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { documentClient, s3Client } from '../../adapters/aws-clients.ts';
import { DynamoDbJobStore } from '../../adapters/dynamodb-job-store.ts';
import { S3ImageStore } from '../../adapters/s3-image-store.ts';
import type { EmbeddedStack } from '../../local/stack.ts';
import { createApp } from '../../mcp-gateway/app.ts';
import { tokenVerifier } from '../../mcp-gateway/auth/bearer.ts';
import {
  callTool,
  connectClient,
  jobItemCount,
  openTestStack,
  otherCallerToken,
  sleep,
} from '../support/embedded.ts';

/**
 * MCP Tasks in the 2025-11-25 core form (as VS Code uses them) through the 1.x SDK client's
 * experimental API, a genuine 2025-era client: a start run as a task, its status, result, listing
 * and cancellation, all read from the job records. tasks-2026.test.ts covers the 2026-07-28 tasks
 * extension.
 */

let stack: EmbeddedStack;
let client: Client;
let close: () => Promise<void>;

beforeAll(async () => {
  ({ stack, client, close } = await openTestStack(
    { SDBATCH_SIM_STEP_MS: '5' },
    { progressPollMs: 10, progressWriteMs: 20 },
  ));
  // The client learns which tools take tasks from tools/list.
  await client.listTools();
});
afterAll(() => close?.());

const START = 'sdreforge_batch_start';
const JOB_ID = /^job_\d{8}_[a-z2-7]{10}$/;
const RELATED_TASK = 'io.modelcontextprotocol/related-task';
const SMALL = { width: 64, height: 64, batch_size: 1 };
/** Long enough to be caught running: 30 iterations of 20 steps, two at a time. */
const LONG = { ...SMALL, prompt: 'a long task', steps: 20, n_iter: 30 };

/** Starts the job as a task: only the first message of the stream (the created task) is read. */
async function startTask(c: Client, args: Record<string, unknown>): Promise<Task> {
  for await (const message of c.experimental.tasks.callToolStream({ name: START, arguments: args })) {
    if (message.type === 'taskCreated') return message.task;
    throw new Error(`expected a created task, got ${JSON.stringify(message)}`);
  }
  throw new Error('the stream ended without a message');
}

async function pollTask(c: Client, taskId: string, until: (t: Task) => boolean): Promise<Task[]> {
  const seen: Task[] = [];
  for (let i = 0; i < 1500; i++) {
    const task = await c.experimental.tasks.getTask(taskId);
    seen.push(task);
    if (until(task)) return seen;
    await sleep(10);
  }
  throw new Error(`task ${taskId} never reached the expected state: ${JSON.stringify(seen.at(-1))}`);
}

const ended = (t: Task) => ['completed', 'failed', 'cancelled'].includes(t.status);
const doneImages = (t: Task) => Number(/(\d+)\/\d+ images completed/.exec(t.statusMessage ?? '')?.[1] ?? -1);
const jobStatus = async (c: Client, jobId: string) =>
  (await callTool<{ status: string }>(c, 'sdreforge_batch_status', { job_id: jobId })).data.status;
const errorOf = async (promise: Promise<unknown>): Promise<string> =>
  promise.then(
    () => 'no error',
    (error: Error) => error.message,
  );

/** A result without what is signed afresh on every call, to compare two of them. */
function unsigned(result: CallToolResult) {
  const structured = { ...(result.structuredContent as Record<string, unknown>) };
  delete structured.expires_at;
  structured.files = (structured.files as Array<{ url: string }>).map(({ url: _, ...file }) => file);
  if (structured.contact_sheet) structured.contact_sheet = { ...structured.contact_sheet, url: 'signed' };
  const content = result.content.map((c) => (c.type === 'resource_link' ? { ...c, uri: 'signed' } : c));
  return { content, structured };
}

describe('MCP tasks', () => {
  it('advertises tasks, and sdreforge_batch_start as the one tool that may run as a task', async () => {
    expect(client.getServerCapabilities()?.tasks).toEqual({
      list: {},
      cancel: {},
      requests: { tools: { call: {} } },
    });
    const { tools } = await client.listTools();
    const support = Object.fromEntries(tools.map((t) => [t.name, t.execution?.taskSupport]));
    expect(support[START]).toBe('optional');
    for (const name of Object.keys(support).filter((n) => n !== START)) {
      expect(support[name] ?? 'forbidden', name).toBe('forbidden');
    }
  });

  it('still answers a plain tools/call at once with the job id, while the job runs', async () => {
    const { result, data } = await callTool<{ job_id: string; status: string; estimated_time: string }>(
      client,
      START,
      LONG,
    );
    expect(result.isError).toBeFalsy();
    expect(data).toMatchObject({ job_id: expect.stringMatching(JOB_ID), status: 'pending' });
    expect(data.estimated_time).toBeTruthy();
    expect(result._meta?.[RELATED_TASK]).toBeUndefined();
    // A call that waited for the task would come back with the job over.
    expect(['pending', 'running']).toContain(await jobStatus(client, data.job_id));
    await callTool(client, 'sdreforge_batch_cancel', { job_id: data.job_id });
  });

  it('refuses a plain call with the same tool error as before', async () => {
    const { result } = await callTool(client, START, { prompt: 'x', preset: 'no-such-preset' });
    expect(result.isError).toBe(true);
    expect(result.content).toEqual([
      { type: 'text', text: expect.stringMatching(/^preset: unknown preset "no-such-preset"; available: /) },
    ]);
  });

  it('runs a start as a task: status messages follow the images, and tasks/result has them', async () => {
    const task = await startTask(client, { ...SMALL, prompt: 'a task', steps: 20, n_iter: 12 });
    expect(task).toMatchObject({
      taskId: expect.stringMatching(JOB_ID),
      status: 'working',
      // The same message as the tasks extension's, with the status tool's ETA.
      statusMessage: expect.stringMatching(/^pending: 0\/12 images completed, ETA /),
    });
    expect(task.pollInterval).toBeGreaterThan(0);
    // Kept as long as the job: the default retention (expires_at has whole seconds), from creation.
    expect(task.ttl).toBeGreaterThan(7 * 86_400_000 - 1000);
    expect(task.ttl).toBeLessThanOrEqual(7 * 86_400_000);
    expect(await jobStatus(client, task.taskId)).not.toBe('completed');

    const seen = await pollTask(client, task.taskId, ended);
    const last = seen.at(-1) as Task;
    expect(last).toMatchObject({ status: 'completed', statusMessage: '12/12 images completed' });
    expect(last.pollInterval).toBeUndefined();
    expect(Date.parse(last.lastUpdatedAt)).toBeGreaterThan(Date.parse(task.createdAt));
    const working = seen.filter((t) => t.status === 'working').map(doneImages);
    expect(
      working.some((n) => n > 0 && n < 12),
      `progress seen: ${working}`,
    ).toBe(true);
    expect(working).toEqual([...working].sort((a, b) => a - b));

    // The contact sheet is drawn once the job has ended; the client checks every answer of the
    // result tool against its output schema.
    let sheet: unknown = null;
    for (let i = 0; i < 250 && !sheet; i++) {
      await sleep(20);
      sheet = (await callTool(client, 'sdreforge_batch_result', { job_id: task.taskId })).data.contact_sheet;
    }
    expect(sheet).toMatchObject({ key: expect.any(String), images: 12 });

    const result = await client.experimental.tasks.getTaskResult(task.taskId, CallToolResultSchema);
    expect(result._meta?.[RELATED_TASK]).toEqual({ taskId: task.taskId });
    expect(result.content.filter((c) => c.type === 'image')).toHaveLength(1);
    expect(result.content.filter((c) => c.type === 'resource_link')).toHaveLength(12);
    const files = (result.structuredContent as { files: Array<{ url: string; seed: number }> }).files;
    expect(files).toHaveLength(12);
    expect((await fetch(files[0]?.url ?? '')).status).toBe(200);
    // The result tool's first page, with the start's own fields its output schema asks for.
    const page = unsigned((await callTool(client, 'sdreforge_batch_result', { job_id: task.taskId })).result);
    const { content, structured } = unsigned(result);
    expect(content).toEqual(page.content);
    expect(structured).toEqual({
      ...page.structured,
      preset: expect.any(String),
      seed: expect.any(Number),
      estimated_time: expect.any(String),
      estimated_seconds: expect.any(Number),
      poll_after_seconds: expect.any(Number),
    });
  });

  it('runs callToolStream to its end: created, statuses, then the result', async () => {
    const messages: Array<ResponseMessage<CallToolResult>> = [];
    for await (const message of client.experimental.tasks.callToolStream({
      name: START,
      arguments: { ...SMALL, prompt: 'streamed', steps: 2, n_iter: 2 },
    })) {
      messages.push(message as ResponseMessage<CallToolResult>);
    }
    const types = messages.map((m) => m.type);
    expect(messages.find((m) => m.type === 'error')).toBeUndefined();
    expect(types[0]).toBe('taskCreated');
    expect(types.at(-1)).toBe('result');
    expect(types.slice(1, -1).every((t) => t === 'taskStatus')).toBe(true);
    const final = messages.at(-1);
    if (final?.type !== 'result') throw new Error('no result');
    // The client checked it against the start tool's output schema.
    expect(final.result.structuredContent).toMatchObject({ status: 'completed', total_images: 2 });
    expect((final.result.structuredContent as { files: unknown[] }).files).toHaveLength(2);
  });

  it('lists tasks with the cursor sdreforge_batch_list hands out', async () => {
    const { tasks } = await client.experimental.tasks.listTasks();
    const { data: jobs } = await callTool<{ jobs: Array<{ job_id: string; status: string }> }>(
      client,
      'sdreforge_batch_list',
      {},
    );
    expect(tasks.map((t) => t.taskId)).toEqual(jobs.jobs.map((j) => j.job_id));
    expect(tasks.length).toBeGreaterThanOrEqual(3);
    expect(tasks.find((t) => t.status === 'completed')?.statusMessage).toMatch(
      /^(\d+)\/\1 images completed$/,
    );

    const { data: first } = await callTool<{ next_cursor?: string }>(client, 'sdreforge_batch_list', {
      limit: 1,
    });
    expect(first.next_cursor).toBeTruthy();
    const rest = await client.experimental.tasks.listTasks(first.next_cursor);
    expect(rest.tasks.map((t) => t.taskId)).toEqual(jobs.jobs.slice(1).map((j) => j.job_id));
    expect(await errorOf(client.experimental.tasks.listTasks('bm90IGEgY3Vyc29y'))).toMatch(
      /cursor: not a cursor this server handed out/,
    );
  });

  it('cancels a running task as sdreforge_batch_cancel does, keeping the images made', async () => {
    const task = await startTask(client, LONG);
    await pollTask(client, task.taskId, (t) => doneImages(t) >= 2);
    const cancelled = await client.experimental.tasks.cancelTask(task.taskId);
    expect(cancelled).toMatchObject({ taskId: task.taskId, status: 'cancelled' });
    expect(cancelled.statusMessage).toMatch(/^cancelled: \d+\/30 images completed$/);
    expect(await jobStatus(client, task.taskId)).toBe('cancelled');
    expect(await errorOf(client.experimental.tasks.cancelTask(task.taskId))).toMatch(
      /Cannot cancel task in terminal status: cancelled/,
    );
    const result = await client.experimental.tasks.getTaskResult(task.taskId, CallToolResultSchema);
    const kept = result.structuredContent as { status: string; files: unknown[] };
    expect(kept.status).toBe('cancelled');
    expect(kept.files.length).toBeGreaterThanOrEqual(2);
    expect(kept.files.length).toBeLessThan(30);
  });

  it('answers wrongly typed task params with InvalidParams naming the field, and changes nothing', async () => {
    const running = await startTask(client, LONG);
    const jobs = await jobItemCount(stack);
    /** The error a raw request gets: the SDK client sends params as given. */
    const refusal = (method: string, params: Record<string, unknown>) =>
      client.request({ method, params } as never, EmptyResultSchema).then(
        () => ({ code: 0, message: 'no error' }),
        (error: McpError) => ({ code: error.code, message: error.message }),
      );
    const refused = {
      'tasks/get': await refusal('tasks/get', { taskId: 5 }),
      'tasks/result': await refusal('tasks/result', { taskId: 5 }),
      'tasks/cancel': await refusal('tasks/cancel', { taskId: { id: running.taskId } }),
      'tasks/list': await refusal('tasks/list', { cursor: { page: 2 } }),
      'tools/call': await refusal('tools/call', { name: START, arguments: LONG, task: { ttl: 'a week' } }),
    };
    expect(refused).toEqual({
      'tasks/get': {
        code: -32602,
        message: expect.stringMatching(/tasks\/get: taskId: .*expected string, received number$/),
      },
      'tasks/result': {
        code: -32602,
        message: expect.stringMatching(/tasks\/result: taskId: .*expected string, received number$/),
      },
      'tasks/cancel': {
        code: -32602,
        message: expect.stringMatching(/tasks\/cancel: taskId: .*expected string, received object$/),
      },
      'tasks/list': {
        code: -32602,
        message: expect.stringMatching(/tasks\/list: cursor: .*expected string, received object$/),
      },
      'tools/call': {
        code: -32602,
        message: expect.stringMatching(/tools\/call: task\.ttl: .*expected number, received string$/),
      },
    });
    // One line each, not the schema's issue dump.
    for (const { message } of Object.values(refused)) expect(message).not.toContain('\n');
    expect(await jobItemCount(stack)).toBe(jobs);
    expect((await client.experimental.tasks.getTask(running.taskId)).status).toBe('working');
    await client.experimental.tasks.cancelTask(running.taskId);
  });

  it("answers another caller's task exactly as one that does not exist", async () => {
    const token = await otherCallerToken(stack, 'tasks-2025-other');
    const other = await connectClient(stack, token);
    try {
      const task = await startTask(client, LONG);
      const missing = 'job_20261124_zzzzzzzzzz';
      const asked = {
        get: (id: string) => other.experimental.tasks.getTask(id),
        result: (id: string) => other.experimental.tasks.getTaskResult(id, CallToolResultSchema),
        cancel: (id: string) => other.experimental.tasks.cancelTask(id),
      };
      for (const [name, ask] of Object.entries(asked)) {
        const theirs = await errorOf(ask(task.taskId));
        const none = await errorOf(ask(missing));
        expect(theirs, name).toMatch(/not found/i);
        expect(theirs.replace(task.taskId, 'ID'), name).toBe(none.replace(missing, 'ID'));
      }
      expect(await errorOf(other.experimental.tasks.getTask('not a job id'))).toMatch(/not found/i);
      expect((await other.experimental.tasks.listTasks()).tasks.map((t) => t.taskId)).not.toContain(
        task.taskId,
      );
      // The other caller's cancel changed nothing.
      expect((await client.experimental.tasks.getTask(task.taskId)).status).toBe('working');
      await client.experimental.tasks.cancelTask(task.taskId);
    } finally {
      await other.close();
    }
  });

  it('is answered by a second gateway over the same table and bucket', async () => {
    const task = await startTask(client, { ...SMALL, prompt: 'seen twice', steps: 2, n_iter: 3 });
    await pollTask(client, task.taskId, ended);

    // Another gateway process: its own app and its own store clients, sharing only the data.
    const { clients, tableName, bucketName } = stack.stores;
    const app = createApp({
      deps: {
        ...stack.deps,
        jobs: new DynamoDbJobStore(documentClient(clients), tableName),
        images: new S3ImageStore(s3Client(clients), bucketName),
      },
      verifyToken: tokenVerifier(stack.token),
    });
    const server = await new Promise<ServerType>((resolve) => {
      const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s));
    });
    const port = (server.address() as AddressInfo).port;
    const second = await connectClient({ ...stack, mcpUrl: `http://127.0.0.1:${port}/mcp` });
    try {
      const here = await client.experimental.tasks.getTask(task.taskId);
      const there = await second.experimental.tasks.getTask(task.taskId);
      expect(there).toEqual(here);
      expect(there).toMatchObject({ status: 'completed', statusMessage: '3/3 images completed' });
      const result = await second.experimental.tasks.getTaskResult(task.taskId, CallToolResultSchema);
      expect((result.structuredContent as { files: unknown[] }).files).toHaveLength(3);
      expect((await second.experimental.tasks.listTasks()).tasks.map((t) => t.taskId)).toContain(task.taskId);
    } finally {
      await second.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
