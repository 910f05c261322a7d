import type {
  CreateTaskRequestHandlerExtra,
  TaskRequestHandlerExtra,
} from '@modelcontextprotocol/sdk/experimental/tasks';
import type { McpServer as LegacyMcpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult as LegacyCallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { CallToolResult } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { formatDuration } from '../../core/duration.ts';
import { type JobRecord, JobStatus } from '../../core/job.ts';
import { pollAfterSeconds } from '../../core/status-view.ts';
import type { ToolContext } from '../deps.ts';
import { type StartArgs, startJob } from '../start-job.ts';
import { type StartedJob, startedTaskOptions } from '../started-job.ts';
import { safely, toolResult } from '../tool-result.ts';
import { StartToolInput } from './inputs.ts';
import { firstResultPage, ResultOutput } from './result.ts';
import type { ToolConfig, ToolHost } from './tool-host.ts';

export const StartOutput = z.object({
  job_id: z.string(),
  status: JobStatus,
  total_images: z.number().int(),
  preset: z.string(),
  seed: z.number().int().describe('The concrete base seed; image k has seed + k.'),
  estimated_time: z.string(),
  estimated_seconds: z.number(),
  poll_after_seconds: z.number(),
  message: z.string(),
  // Run as an MCP task, a start ends with the job's images: its final result (tasks/result, or tasks/get with the tasks extension) adds the
  // first page sdreforge_batch_result gives to the fields above. A plain call has none of these.
  completed_images: ResultOutput.shape.completed_images.optional(),
  files: ResultOutput.shape.files
    .optional()
    .describe("Only in a task's final result: the first page of images sdreforge_batch_result gives."),
  next_cursor: ResultOutput.shape.next_cursor.describe('cursor for the next page of sdreforge_batch_result.'),
  contact_sheet: ResultOutput.shape.contact_sheet.optional(),
  failures: ResultOutput.shape.failures.optional(),
  expires_at: ResultOutput.shape.expires_at.optional(),
});
export type StartOutput = z.infer<typeof StartOutput>;

export { StartToolInput };

export const START_TOOL = 'sdreforge_batch_start';

/** The start tool as both protocol eras list it; the 2025-era server adds its task support. */
const START_CONFIG = {
  title: 'Start a Stable Diffusion batch',
  description:
    'Starts generating batch_size x n_iter images (up to 800) in the background and returns a job_id at once. ' +
    'Run as a task (clients with MCP tasks), its result arrives when the job ends: nothing to poll. ' +
    'Otherwise call sdreforge_batch_status every poll_after_seconds until the status is completed, partial, failed ' +
    'or cancelled, sdreforge_batch_result for the download URLs (also usable while it runs) and ' +
    'sdreforge_batch_preview to see the pictures yourself. ' +
    'Every txt2img option of the sdreforge dynamic preset is accepted: hires fix, ADetailer, ControlNet, ' +
    'Regional Prompter (rp_*), Dynamic Prompts, checkpoint, clip_skip. A preset (see sdreforge_presets) ' +
    'supplies defaults; your arguments override them.',
  inputSchema: StartToolInput,
  outputSchema: StartOutput,
  // Starts paid GPU work on a host outside this server; a repeat starts another job unless
  // it carries the same client_token.
  annotations: {
    readOnlyHint: false,
    destructiveHint: false,
    idempotentHint: false,
    openWorldHint: true,
  },
} satisfies ToolConfig<typeof StartToolInput>;

/**
 * The start tool for 2026-07-28 requests: a caller declaring the tasks extension gets the job as
 * a task instead (tasks/tasks-extension.ts).
 */
export function registerStartTool(server: ToolHost, ctx: ToolContext): void {
  server.registerTool(START_TOOL, START_CONFIG, async (args) => (await startOrRefuse(ctx, args)).answer);
}

/**
 * The start tool for 2025-era requests, in the 2025-11-25 task form: a client with tasks gets the
 * job as a task (tasks/get, tasks/result, tasks/cancel); a plain call still gets the job id at
 * once (see JobTaskStore.createTask).
 */
export function registerStartToolTask(server: LegacyMcpServer, ctx: ToolContext): void {
  server.experimental.tasks.registerToolTask(
    START_TOOL,
    { ...START_CONFIG, execution: { taskSupport: 'optional' } },
    // Typed by hand: with the shared config spread in, the SDK's overloads no longer infer them.
    {
      createTask: async (args: unknown, extra: CreateTaskRequestHandlerExtra) => {
        // The SDK has validated args against StartToolInput; its task API types them unknown.
        const started = await startOrExplain(ctx, args as StartArgs);
        return { task: await extra.taskStore.createTask(startedTaskOptions(started)) };
      },
      getTask: (_args: unknown, extra: TaskRequestHandlerExtra) => extra.taskStore.getTask(extra.taskId),
      getTaskResult: async (_args: unknown, extra: TaskRequestHandlerExtra) =>
        (await extra.taskStore.getTaskResult(extra.taskId)) as LegacyCallToolResult,
    },
  );
}

/**
 * Starts the job. A refusal is thrown with the message `safely` words it in: the 1.x SDK answers
 * a thrown error with exactly the tool error `safely` would have returned.
 */
async function startOrExplain(ctx: ToolContext, args: StartArgs): Promise<StartedJob> {
  const { job, answer } = await startOrRefuse(ctx, args);
  if (!job) {
    const [first] = answer.content;
    throw new Error(first?.type === 'text' ? first.text : 'sdreforge_batch_start failed');
  }
  return { job, answer };
}

/** The started job with the tool's answer, or only the tool error that refused it. */
export async function startOrRefuse(
  ctx: ToolContext,
  args: StartArgs,
): Promise<{ job?: JobRecord; answer: CallToolResult }> {
  let job: JobRecord | undefined;
  const answer = await safely(async () => {
    const started = await startJob(ctx, args);
    job = started.job;
    return startAnswer(ctx, started.job, started.reused);
  });
  return { job, answer };
}

function startAnswer(ctx: ToolContext, job: JobRecord, reused: boolean): CallToolResult {
  const again = reused ? ' (already started with this client_token)' : '';
  const fields = startFields(ctx, job);
  return toolResult(
    `Started ${job.job_id}${again}: ${job.total_images} images (seed ${job.params.seed}), about ${fields.estimated_time}.`,
    {
      ...fields,
      message: `Job started. Check progress with sdreforge_batch_status {"job_id": "${job.job_id}"}.`,
    },
  );
}

function startFields(ctx: ToolContext, job: JobRecord) {
  return {
    job_id: job.job_id,
    status: job.status,
    total_images: job.total_images,
    preset: job.preset ?? ctx.deps.presets.defaultName,
    seed: job.params.seed,
    estimated_time: formatDuration(job.estimated_seconds),
    estimated_seconds: job.estimated_seconds,
    poll_after_seconds: pollAfterSeconds(job.estimated_seconds),
  };
}

/**
 * What a start run as a task ends with (tasks/result, or tasks/get with the tasks extension, once the job has ended): the first
 * page sdreforge_batch_result gives, content and all, with the start's own output fields.
 */
export async function startTaskResult(ctx: ToolContext, job: JobRecord): Promise<CallToolResult> {
  const page = await firstResultPage(ctx, job);
  const fields = page.structuredContent as Record<string, unknown>;
  return { ...page, structuredContent: { ...startFields(ctx, job), ...fields } };
}
