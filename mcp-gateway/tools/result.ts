import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { isTerminal, JobStatus } from '../../core/job.ts';
import type { ToolContext } from '../deps.ts';
import { safely, toolResult } from '../tool-result.ts';
import { getOwnedJob } from './owned-job.ts';
import { JobIdInput } from './status.ts';

const ResultFile = z.object({
  url: z.string().describe('Presigned GET URL of the PNG; valid until expires_at.'),
  key: z.string(),
  iteration: z.number().int(),
  index: z.number().int(),
  seed: z.number().int(),
  subseed: z.number().int().optional(),
  width: z.number().int(),
  height: z.number().int(),
  infotext: z.string().optional().describe('SD WebUI generation parameters, as in the PNG.'),
});

export const ResultOutput = z.object({
  job_id: z.string(),
  status: JobStatus,
  total_images: z.number().int(),
  completed_images: z.number().int(),
  files: z.array(ResultFile),
  failures: z.array(z.object({ iteration: z.number().int(), error: z.string() })),
  expires_at: z.string().describe('When the URLs stop working; call again for fresh ones.'),
  message: z.string(),
});

export function registerResultTool(server: McpServer, ctx: ToolContext): void {
  server.registerTool(
    'sdreforge_batch_result',
    {
      title: 'Images of a batch',
      description:
        "Download URLs (presigned, short-lived) of the images a job has made, with each image's seed. " +
        'Works while the job runs (returns the images finished so far) and after it ends. ' +
        'Call again for fresh URLs once expires_at has passed.',
      inputSchema: JobIdInput,
      outputSchema: ResultOutput.shape,
    },
    ({ job_id }) =>
      safely(async () => {
        const { deps } = ctx;
        const job = await getOwnedJob(ctx, job_id);
        const iterations = (await deps.jobs.listIterations(job_id)).sort((a, b) => a.iteration - b.iteration);
        const ttl = deps.settings.urlTtlSeconds;
        // Signed afresh on every call: the earliest expiry of the batch is the one to report.
        let expiresAt = new Date(deps.now().getTime() + ttl * 1000);
        const files = await Promise.all(
          iterations.flatMap((it) =>
            it.images.map(async (image) => {
              const signed = await deps.images.presignGet(image.key, ttl);
              if (signed.expiresAt < expiresAt) expiresAt = signed.expiresAt;
              return {
                url: signed.url,
                key: image.key,
                iteration: it.iteration,
                index: image.index,
                seed: image.seed,
                subseed: image.subseed,
                width: image.width,
                height: image.height,
                infotext: image.infotext,
              };
            }),
          ),
        );
        const failures = iterations
          .filter((it) => it.status === 'failed')
          .map((it) => ({ iteration: it.iteration, error: `${it.error?.type}: ${it.error?.message}` }));
        const running = isTerminal(job.status) ? '' : ' The job is still running; ask again for the rest.';
        const message = `${files.length} of ${job.total_images} images ready (${job.status}).${running}`;
        return toolResult(message, {
          job_id,
          status: job.status,
          total_images: job.total_images,
          completed_images: files.length,
          files,
          failures,
          expires_at: expiresAt.toISOString(),
          message,
        });
      }),
  );
}
