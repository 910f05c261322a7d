import type { CreateTaskOptions, TaskStore } from '@modelcontextprotocol/sdk/experimental/tasks';
import {
  ErrorCode,
  McpError,
  type Request,
  type RequestId,
  type Result,
  type Task,
} from '@modelcontextprotocol/sdk/types.js';
import { InvalidRequestError, JobNotFoundError, StoresUnavailableError } from '../../core/errors.ts';
import type { JobRecord } from '../../core/job.ts';
import type { ToolContext } from '../deps.ts';
import { startedJobOf } from '../started-job.ts';
import { cancelJob } from '../tools/cancel.ts';
import { listOwnJobs } from '../tools/list.ts';
import { getOwnedJob } from '../tools/owned-job.ts';
import { startTaskResult } from '../tools/start.ts';
import { isJobId, isTaskAugmented, taskStatusOf, toLegacyTask } from './job-task.ts';

const TASKS_PER_PAGE = 20;

/**
 * The MCP task store of one request, bound to its caller: a thin adapter that reads the jobs table
 * and writes nothing of its own. Tasks are the caller's jobs; another caller's job is not found,
 * exactly like one that does not exist.
 */
export class JobTaskStore implements TaskStore {
  private readonly ctx: ToolContext;
  /** Start answers of plain tools/call requests served by this store (see createTask). */
  private readonly answers = new Map<string, Result>();

  constructor(ctx: ToolContext) {
    this.ctx = ctx;
  }

  createTask(options: CreateTaskOptions, _requestId: RequestId, request: Request): Promise<Task> {
    return guarded(async () => {
      // The requested ttl is not taken: a task lives as long as its job is kept.
      const started = startedJobOf(options);
      if (!started) throw new McpError(ErrorCode.InvalidRequest, 'Only sdreforge_batch_start creates tasks.');
      const task = toLegacyTask(started.job, this.ctx.deps.now());
      if (isTaskAugmented(request)) return task;
      // A client that did not ask for a task: the SDK would poll this task until the job ends and
      // answer with its final result, longer than any client waits. It is answered at once with
      // the start result instead: the task reads as ended to the SDK, and getTaskResult gives it.
      this.answers.set(task.taskId, started.answer);
      return { ...task, status: 'completed' };
    });
  }

  getTask(taskId: string): Promise<Task | null> {
    return guarded(async () => {
      const job = await this.ownedJob(taskId);
      return job ? toLegacyTask(job, this.ctx.deps.now()) : null;
    });
  }

  /** The first page sdreforge_batch_result gives; the SDK asks only once the job has ended. */
  getTaskResult(taskId: string): Promise<Result> {
    return guarded(async () => {
      const answer = this.answers.get(taskId);
      if (answer) return answer;
      const job = await this.ownedJob(taskId);
      if (!job) throw new McpError(ErrorCode.InvalidParams, `Task not found: ${taskId}`);
      return startTaskResult(this.ctx, job);
    });
  }

  /** Only cancellation may be asked for: every other status follows the job. */
  updateTaskStatus(taskId: string, status: Task['status']): Promise<void> {
    return guarded(async () => {
      if (status !== 'cancelled') {
        throw new McpError(
          ErrorCode.InvalidRequest,
          `A task's status follows its job; it cannot be set to ${status}.`,
        );
      }
      const outcome = await cancelJob(this.ctx, taskId);
      if (!outcome.cancelled) {
        // It ended between the SDK's look and the cancel: say so as the SDK would have.
        throw new McpError(
          ErrorCode.InvalidParams,
          `Cannot cancel task in terminal status: ${taskStatusOf(outcome.status)}`,
        );
      }
    });
  }

  storeTaskResult(): Promise<void> {
    return Promise.reject(
      new McpError(ErrorCode.InvalidRequest, "A task's result is read from its job; nothing is stored."),
    );
  }

  /** The caller's jobs newest first, paged with the cursor sdreforge_batch_list hands out. */
  listTasks(cursor?: string): Promise<{ tasks: Task[]; nextCursor?: string }> {
    return guarded(async () => {
      const page = await listOwnJobs(this.ctx, { cursor, limit: TASKS_PER_PAGE });
      const now = this.ctx.deps.now();
      return { tasks: page.jobs.map((job) => toLegacyTask(job, now)), nextCursor: page.nextCursor };
    });
  }

  private async ownedJob(taskId: string): Promise<JobRecord | undefined> {
    if (!isJobId(taskId)) return undefined;
    try {
      return await getOwnedJob(this.ctx, taskId);
    } catch (error) {
      if (error instanceof JobNotFoundError) return undefined;
      throw error;
    }
  }
}

/**
 * What the caller may fix is an invalid-params error with its message; anything else is logged
 * and reported without internals, as the tools do.
 */
async function guarded<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof McpError) throw error;
    if (error instanceof JobNotFoundError || error instanceof InvalidRequestError) {
      throw new McpError(ErrorCode.InvalidParams, error.message);
    }
    if (error instanceof StoresUnavailableError) throw new McpError(ErrorCode.InternalError, error.message);
    console.error('task request failed', error);
    throw new McpError(ErrorCode.InternalError, 'Internal error in sdbatch; the request may be retried.');
  }
}
