import { z } from 'zod';
import { isTerminal, JobStatus, sourcesOf } from '../../core/job-status.ts';
import type { ToolContext } from '../deps.ts';
import { safely, toolResult } from '../tool-result.ts';
import { getOwnedJob } from './owned-job.ts';
import { JobIdInput } from './status.ts';
import type { ToolHost } from './tool-host.ts';

export const CancelOutput = z.object({
  job_id: z.string(),
  status: JobStatus,
  cancelled: z.boolean().describe('false when the job had already ended: nothing was changed.'),
  completed_images: z.number().int(),
  still_finishing_images: z
    .number()
    .int()
    .optional()
    .describe(
      'At most this many more images, from calls the GPU had already taken, may still land and be kept.',
    ),
  message: z.string(),
});
export type CancelOutput = z.infer<typeof CancelOutput>;

export function registerCancelTool(server: ToolHost, ctx: ToolContext): void {
  server.registerTool(
    'sdreforge_batch_cancel',
    {
      title: 'Cancel a batch',
      description:
        'Stops a pending or running job: iterations not yet started are skipped and the GPU host is interrupted ' +
        'if it is working for this job. Images already made are kept (sdreforge_batch_result). ' +
        'A job that already ended is left as it is.',
      inputSchema: JobIdInput,
      outputSchema: CancelOutput,
      annotations: { destructiveHint: true, idempotentHint: true, openWorldHint: false },
    },
    ({ job_id }) =>
      safely(async () => {
        const outcome = await cancelJob(ctx, job_id);
        return toolResult(outcome.message, outcome);
      }),
  );
}

/**
 * Stops the caller's job if it has not ended (the cancel tool and tasks/cancel both come here).
 * Another caller's job is not found, like a job that does not exist.
 */
export async function cancelJob(ctx: ToolContext, jobId: string): Promise<CancelOutput> {
  const { deps } = ctx;
  const job = await getOwnedJob(ctx, jobId);
  const moved =
    !isTerminal(job.status) &&
    (await deps.jobs.transition(jobId, sourcesOf('cancelled'), 'cancelled', deps.now().toISOString()));
  if (!moved) {
    const now = (await deps.jobs.get(jobId)) ?? job;
    const message = `${jobId} had already ended (${now.status}); nothing changed.`;
    return {
      job_id: jobId,
      status: now.status,
      cancelled: false,
      completed_images: now.completed_images,
      message,
    };
  }
  // The status is what workers obey; stopping the execution only saves the transitions left.
  await deps.orchestrator.stop(jobId, 'cancelled by its owner');
  // A call the GPU has already taken may end before its runner sees the cancel: its images are
  // kept. The pool is read before the job: a call counts its images before it lets its lease go,
  // so one that ends in between is in one reading or the other (or both: this is a bound).
  const calls = (await deps.callsInFlight?.(jobId).catch(() => undefined)) ?? 0;
  const after = (await deps.jobs.get(jobId)) ?? job;
  const finishing = Math.min(calls * after.params.batch_size, after.total_images - after.completed_images);
  const message =
    `${jobId} cancelled; ${after.completed_images} of ${after.total_images} images were made and kept` +
    (finishing > 0
      ? `, and up to ${finishing} more from calls already on the GPU may still be kept (sdreforge_batch_result lists them once stored).`
      : '.');
  return {
    job_id: jobId,
    status: 'cancelled',
    cancelled: true,
    completed_images: after.completed_images,
    ...(finishing > 0 ? { still_finishing_images: finishing } : {}),
    message,
  };
}
