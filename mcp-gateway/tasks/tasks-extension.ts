import {
  type CreateTaskResultV2,
  type DetailedTaskV2,
  hasTaskClientCapabilityV2,
  TASKS_EXTENSION_ID_V2,
} from '@modelcontextprotocol/ext-tasks/core/v2';
import {
  type CallToolRequest,
  type CallToolResult,
  type McpServer,
  ProtocolError,
  ProtocolErrorCode,
  type ServerContext,
} from '@modelcontextprotocol/server';
import { z } from 'zod';
import { InvalidRequestError, JobNotFoundError, StoresUnavailableError } from '../../core/errors.ts';
import type { JobRecord } from '../../core/job.ts';
import type { ToolContext } from '../deps.ts';
import { cancelJob } from '../tools/cancel.ts';
import { getOwnedJob } from '../tools/owned-job.ts';
import { START_TOOL, StartToolInput, startOrRefuse, startTaskResult } from '../tools/start.ts';
import { isJobId, taskStatusOf, toTask } from './job-task.ts';

type ToolsCallHandler = (request: CallToolRequest, ctx: ServerContext) => Promise<unknown>;
/** The SDK keeps registered handlers here; its accessor is protected, not private. */
type HandlerLookup = { _getRequestHandler(method: string): ToolsCallHandler | undefined };

type CompletedTask = Extract<DetailedTaskV2, { status: 'completed' }>;

const TaskIdParams = z.object({ taskId: z.string() });

/**
 * The tasks extension (2026-07-28) on one request's server: sdreforge_batch_start answers with
 * its job as a task when the request declares the extension, and tasks/get and tasks/cancel read
 * and cancel the caller's job. Nothing is kept here: every answer comes from the job record.
 * Call after the tools are registered.
 */
export function serveJobTasks(server: McpServer, ctx: ToolContext): void {
  const lowLevel = server.server;
  lowLevel.registerCapabilities({ extensions: { [TASKS_EXTENSION_ID_V2]: {} } });

  // The SDK has no task results for tools/call and checks a tool's answer against its output
  // schema: the start-as-task answer is made here, in front of McpServer's own handler.
  const toolsCall = (lowLevel as unknown as HandlerLookup)._getRequestHandler('tools/call');
  if (!toolsCall) throw new Error('serveJobTasks: register the tools first');
  lowLevel.removeRequestHandler('tools/call');
  lowLevel.setRequestHandler('tools/call', async (request, reqCtx) => {
    const args = StartToolInput.safeParse(request.params.arguments ?? {});
    const wantsTask =
      request.params.name === START_TOOL && hasTaskClientCapabilityV2({ _meta: reqCtx.mcpReq.envelope });
    // Bad arguments get exactly the error a plain call gets, from the SDK's handler.
    if (!wantsTask || !args.success) return (await toolsCall(request, reqCtx)) as CallToolResult;
    const { job, answer } = await startOrRefuse(ctx, args.data);
    if (!job) return answer;
    const created: CreateTaskResultV2 = { resultType: 'task', ...toTask(job, ctx.deps.now()) };
    // The 2026-07-28 encoder passes a tools/call resultType other than 'complete' through as is.
    return created as unknown as CallToolResult;
  });

  lowLevel.setRequestHandler('tasks/get', { params: TaskIdParams }, ({ taskId }) =>
    guarded(async () => detailedTask(ctx, await ownedJob(ctx, taskId))),
  );
  lowLevel.setRequestHandler('tasks/cancel', { params: TaskIdParams }, ({ taskId }) =>
    guarded(async () => {
      await ownedJob(ctx, taskId);
      const outcome = await cancelJob(ctx, taskId);
      if (!outcome.cancelled) {
        throw new ProtocolError(
          ProtocolErrorCode.InvalidParams,
          `Cannot cancel task in terminal status: ${taskStatusOf(outcome.status)}`,
        );
      }
      return {};
    }),
  );
}

/** The task with what it ended with: the result tool's first page, or the job's error. */
async function detailedTask(ctx: ToolContext, job: JobRecord): Promise<DetailedTaskV2> {
  const task = toTask(job, ctx.deps.now());
  switch (task.status) {
    case 'completed': {
      // The whole 2026-07-28 tool result, which names its own resultType; the SDK's
      // CallToolResult type lacks the JSON index signature the wire type has.
      const result = { ...(await startTaskResult(ctx, job)), resultType: 'complete' };
      return { ...task, status: 'completed', result: result as CompletedTask['result'] };
    }
    case 'failed':
      return {
        ...task,
        status: 'failed',
        error: {
          code: ProtocolErrorCode.InternalError,
          message: `${job.job_id} failed (${task.statusMessage}); sdreforge_batch_result lists why.`,
        },
      };
    case 'cancelled':
      return { ...task, status: 'cancelled' };
    default:
      return { ...task, status: 'working' };
  }
}

/** Another caller's job is unknown, exactly like one that does not exist. */
async function ownedJob(ctx: ToolContext, taskId: string): Promise<JobRecord> {
  const notFound = new ProtocolError(ProtocolErrorCode.InvalidParams, `Task not found: ${taskId}`);
  if (!isJobId(taskId)) throw notFound;
  try {
    return await getOwnedJob(ctx, taskId);
  } catch (error) {
    throw error instanceof JobNotFoundError ? notFound : error;
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
    if (error instanceof ProtocolError) throw error;
    if (error instanceof JobNotFoundError || error instanceof InvalidRequestError) {
      throw new ProtocolError(ProtocolErrorCode.InvalidParams, error.message);
    }
    if (error instanceof StoresUnavailableError) {
      throw new ProtocolError(ProtocolErrorCode.InternalError, error.message);
    }
    console.error('task request failed', error);
    throw new ProtocolError(
      ProtocolErrorCode.InternalError,
      'Internal error in sdbatch; the request may be retried.',
    );
  }
}
