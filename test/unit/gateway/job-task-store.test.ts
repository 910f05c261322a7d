import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { JobRecord, JobStatus } from '../../../core/job.ts';
import type { JobListQuery, JobStore, Orchestrator } from '../../../core/ports.ts';
import type { GatewayDeps, ToolContext } from '../../../mcp-gateway/deps.ts';
import { startedTaskOptions } from '../../../mcp-gateway/started-job.ts';
import { JobTaskStore } from '../../../mcp-gateway/tasks/job-task-store.ts';
import { generationParams, jobRecord } from '../../support/job-fixtures.ts';

const NOW = new Date('2026-11-24T10:02:20.000Z');
const LATER = Date.parse('2026-12-01T10:00:00.000Z') / 1000;

const job = (id: string, owner: string, status: JobStatus, expiresAt = LATER): JobRecord =>
  jobRecord({
    job_id: `job_20261124_${id}`,
    owner,
    status,
    params: generationParams({ n_iter: 4 }),
    total_images: 4,
    completed_images: 1,
    expires_at: expiresAt,
  });

const MINE = job('aaaaaaaaaa', 'alice', 'running');
const DONE = job('bbbbbbbbbb', 'alice', 'completed');
const OLD = job('cccccccccc', 'alice', 'completed', Date.parse('2026-11-24T10:00:00.000Z') / 1000);
const THEIRS = job('dddddddddd', 'bob', 'running');

/** The job store methods tasks use, over a map; any other call fails the test. */
function setUp() {
  const records = new Map([MINE, DONE, OLD, THEIRS].map((j) => [j.job_id, { ...j }]));
  const listed: Array<{ owner: string; query: JobListQuery }> = [];
  const get = vi.fn(async (id: string) => records.get(id));
  const jobs: Pick<JobStore, 'get' | 'transition' | 'listByOwner' | 'listIterations'> = {
    get,
    transition: async (id, from, to) => {
      const record = records.get(id);
      if (!record || !from.includes(record.status)) return false;
      record.status = to;
      return true;
    },
    listByOwner: async (owner, query) => {
      listed.push({ owner, query });
      return {
        jobs: [...records.values()].filter((j) => j.owner === owner),
        nextCursor: 'next-page',
      };
    },
    listIterations: async () => {
      throw new Error('not expected');
    },
  };
  const stopped: string[] = [];
  const orchestrator: Orchestrator = {
    start: async () => {
      throw new Error('not expected');
    },
    stop: async (id) => {
      stopped.push(id);
    },
  };
  const ctx: ToolContext = {
    deps: { jobs, orchestrator, now: () => NOW } as GatewayDeps,
    caller: { id: 'alice' },
  };
  return { store: new JobTaskStore(ctx), records, listed, stopped, get };
}

const ANSWER = { content: [{ type: 'text' as const, text: `Started ${MINE.job_id}` }] };
const callOf = (task?: object) => ({ method: 'tools/call', params: { name: 'sdreforge_batch_start', task } });
const rejection = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (error: unknown) => error as McpError,
  );

afterEach(() => vi.restoreAllMocks());

describe('creating a task', () => {
  it('gives a client that asked for a task the job as a working task', async () => {
    const { store } = setUp();
    const task = await store.createTask(startedTaskOptions({ job: MINE, answer: ANSWER }), 1, callOf({}));
    expect(task).toMatchObject({ taskId: MINE.job_id, status: 'working' });
  });

  it('answers a plain call at once with the start answer, reading nothing', async () => {
    const { store, get } = setUp();
    const task = await store.createTask(startedTaskOptions({ job: MINE, answer: ANSWER }), 1, callOf());
    // The SDK polls until the task has ended, then returns its result as the call's answer.
    expect(task.status).toBe('completed');
    expect(await store.getTaskResult(MINE.job_id)).toBe(ANSWER);
    expect(get).not.toHaveBeenCalled();
  });

  it('creates nothing but the start tool does', async () => {
    const { store } = setUp();
    const error = await rejection(store.createTask({ ttl: 1000 }, 1, callOf({})));
    expect(error).toBeInstanceOf(McpError);
    expect(error?.code).toBe(ErrorCode.InvalidRequest);
  });
});

describe('reading tasks', () => {
  it("finds the caller's jobs, and nothing else: not another caller's, an expired or unknown one", async () => {
    const { store, get } = setUp();
    expect(await store.getTask(MINE.job_id)).toMatchObject({ taskId: MINE.job_id, status: 'working' });
    expect(await store.getTask(DONE.job_id)).toMatchObject({ status: 'completed' });
    expect(await store.getTask(THEIRS.job_id)).toBeNull();
    expect(await store.getTask(OLD.job_id)).toBeNull();
    expect(await store.getTask('job_20261124_zzzzzzzzzz')).toBeNull();
    get.mockClear();
    expect(await store.getTask('not a job id')).toBeNull();
    expect(get).not.toHaveBeenCalled();
  });

  it("refuses another caller's result as not found", async () => {
    const { store } = setUp();
    const error = await rejection(store.getTaskResult(THEIRS.job_id));
    expect(error?.code).toBe(ErrorCode.InvalidParams);
    expect(error?.message).toContain(`Task not found: ${THEIRS.job_id}`);
  });

  it("lists the caller's jobs not expired, passing the cursor through both ways", async () => {
    const { store, listed } = setUp();
    const page = await store.listTasks('a-cursor');
    expect(page.tasks.map((t) => t.taskId)).toEqual([MINE.job_id, DONE.job_id]);
    expect(page.nextCursor).toBe('next-page');
    expect(listed).toEqual([{ owner: 'alice', query: { cursor: 'a-cursor', limit: 20 } }]);
  });

  it('reports a store failure without its details', async () => {
    const { store, get } = setUp();
    get.mockRejectedValueOnce(new Error('table secret-table is on fire'));
    const logged = vi.spyOn(console, 'error').mockImplementation(() => {});
    const error = await rejection(store.getTask(MINE.job_id));
    expect(error?.code).toBe(ErrorCode.InternalError);
    expect(error?.message).not.toContain('secret-table');
    expect(logged).toHaveBeenCalled();
  });
});

describe('changing tasks', () => {
  it('cancels the job and stops its execution', async () => {
    const { store, records, stopped } = setUp();
    await store.updateTaskStatus(MINE.job_id, 'cancelled');
    expect(records.get(MINE.job_id)?.status).toBe('cancelled');
    expect(stopped).toEqual([MINE.job_id]);
  });

  it('refuses to cancel a job that has ended, changing nothing', async () => {
    const { store, records, stopped } = setUp();
    const error = await rejection(store.updateTaskStatus(DONE.job_id, 'cancelled'));
    expect(error?.code).toBe(ErrorCode.InvalidParams);
    expect(error?.message).toContain('Cannot cancel task in terminal status: completed');
    expect(records.get(DONE.job_id)?.status).toBe('completed');
    expect(stopped).toEqual([]);
  });

  it("does not touch another caller's job", async () => {
    const { store, records, stopped } = setUp();
    const error = await rejection(store.updateTaskStatus(THEIRS.job_id, 'cancelled'));
    expect(error?.code).toBe(ErrorCode.InvalidParams);
    expect(records.get(THEIRS.job_id)?.status).toBe('running');
    expect(stopped).toEqual([]);
  });

  it('sets no other status and stores no result: both follow the job', async () => {
    const { store, records } = setUp();
    for (const status of ['working', 'input_required', 'completed', 'failed'] as const) {
      expect((await rejection(store.updateTaskStatus(MINE.job_id, status)))?.code, status).toBe(
        ErrorCode.InvalidRequest,
      );
    }
    expect((await rejection(store.storeTaskResult()))?.code).toBe(ErrorCode.InvalidRequest);
    expect(records.get(MINE.job_id)?.status).toBe('running');
  });
});
