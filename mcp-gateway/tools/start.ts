import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { formatDuration } from '../../core/duration.ts';
import { InvalidRequestError } from '../../core/errors.ts';
import { JobStatus } from '../../core/job.ts';
import { newJobId } from '../../core/job-id.ts';
import { StartInputShape } from '../../core/params/generation.ts';
import { planJob } from '../../core/plan.ts';
import { mergeParams } from '../../core/presets/merge.ts';
import { storeInlineControlImages } from '../control-images.ts';
import type { ToolContext } from '../deps.ts';
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
      inputSchema: StartInputShape,
      outputSchema: StartOutput.shape,
    },
    ({ preset: presetName, ...args }) =>
      safely(async () => {
        const { deps, caller } = ctx;
        const preset = deps.presets.get(presetName);
        if (!preset) {
          const known = deps.presets.list().map((p) => p.name);
          throw new InvalidRequestError(
            `preset: unknown preset "${presetName}"; available: ${known.join(', ')}`,
          );
        }
        const now = deps.now();
        const jobId = newJobId(now);
        const merged = mergeParams(preset.settings, args);
        const expiresAt = Math.floor(now.getTime() / 1000) + deps.settings.retentionSeconds;
        const params = await storeInlineControlImages(merged, jobId, deps.images, expiresAt);
        const job = planJob(params, {
          jobId,
          owner: caller.id,
          now,
          retentionSeconds: deps.settings.retentionSeconds,
          calibration: deps.settings.calibration,
          parallelHosts: deps.settings.hosts,
          preset: preset.name,
        });
        await deps.jobs.create(job);
        try {
          await deps.orchestrator.start(job.job_id, {
            job_id: job.job_id,
            n_iter: job.params.n_iter,
            concurrency: deps.settings.concurrency,
          });
        } catch (error) {
          // The job exists but will never run: say so in its record rather than leave it pending.
          await deps.jobs.transition(job.job_id, ['pending'], 'failed', deps.now().toISOString());
          throw error;
        }
        const estimated = formatDuration(job.estimated_seconds);
        return toolResult(
          `Started ${job.job_id}: ${job.total_images} images (seed ${job.params.seed}), about ${estimated}.`,
          {
            job_id: job.job_id,
            status: job.status,
            total_images: job.total_images,
            preset: preset.name,
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
