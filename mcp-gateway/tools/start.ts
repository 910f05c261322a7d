import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { formatDuration } from '../../core/duration.ts';
import { JobStatus } from '../../core/job.ts';
import { StartInputShape } from '../../core/params/generation.ts';
import type { ToolContext } from '../deps.ts';
import { startJob } from '../start-job.ts';
import { safely, toolResult } from '../tool-result.ts';

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
});

export const StartToolInput = z.object({
  ...StartInputShape,
  client_token: z
    .string()
    .min(1)
    .max(128)
    .optional()
    .describe(
      'Any unique string; sending the same call again with it returns the same job instead of a new one.',
    ),
});

export function registerStartTool(server: McpServer, ctx: ToolContext): void {
  server.registerTool(
    'sdreforge_batch_start',
    {
      title: 'Start a Stable Diffusion batch',
      description:
        'Starts generating batch_size x n_iter images (up to 800) in the background and returns a job_id at once. ' +
        'Then call sdreforge_batch_status every poll_after_seconds until the status is completed, partial, failed ' +
        'or cancelled, and sdreforge_batch_result for the download URLs (also usable while it runs). ' +
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
    },
    (args) =>
      safely(async () => {
        const { job, reused } = await startJob(ctx, args);
        const estimated = formatDuration(job.estimated_seconds);
        const again = reused ? ' (already started with this client_token)' : '';
        return toolResult(
          `Started ${job.job_id}${again}: ${job.total_images} images (seed ${job.params.seed}), about ${estimated}.`,
          {
            job_id: job.job_id,
            status: job.status,
            total_images: job.total_images,
            preset: job.preset ?? ctx.deps.presets.defaultName,
            seed: job.params.seed,
            estimated_time: estimated,
            estimated_seconds: job.estimated_seconds,
            poll_after_seconds: Math.min(60, Math.max(5, Math.round(job.estimated_seconds / 10))),
            message: `Job started. Check progress with sdreforge_batch_status {"job_id": "${job.job_id}"}.`,
          },
        );
      }),
  );
}
