import { z } from 'zod';
import type { JobRecord } from '../../core/job.ts';
import {
  type EtaPrior,
  etaLeansOnEstimate,
  etaPrior,
  StatusView,
  toStatusView,
  waitingFor,
} from '../../core/status-view.ts';
import type { ToolContext } from '../deps.ts';
import { toolInput } from '../tool-input.ts';
import { safely, toolResult } from '../tool-result.ts';
import { getOwnedJob } from './owned-job.ts';
import type { ToolHost } from './tool-host.ts';

/** Built once: the SDK would otherwise rebuild a zod object from a shape on every request. */
export const JobIdInput = toolInput({
  job_id: z.string().min(1).max(64).describe('The job_id sdreforge_batch_start returned.'),
});

export function registerStatusTool(server: ToolHost, ctx: ToolContext): void {
  server.registerTool(
    'sdreforge_batch_status',
    {
      title: 'Progress of a batch',
      description:
        'Live progress of a batch job: status, "5/12 images completed", elapsed time, estimated time left and ' +
        'the step of the image being made. Poll again after poll_after_seconds; it is null once the job ended. ' +
        'partial means some images failed: sdreforge_batch_result lists the rest.',
      inputSchema: JobIdInput,
      outputSchema: StatusView,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    ({ job_id }) =>
      safely(async () => {
        const job = await getOwnedJob(ctx, job_id);
        const view = toStatusView(job, ctx.deps.now(), await prior(ctx, job));
        const waiting = waitingFor(view);
        const eta = waiting
          ? `, ${waiting}`
          : view.estimated_remaining
            ? `, about ${view.estimated_remaining} left`
            : '';
        return toolResult(
          `${view.job_id} ${view.status}: ${view.progress}, ${view.elapsed_time} elapsed${eta}.`,
          view,
        );
      }),
  );
}

/**
 * The ETA's prior. The pool is read only while the ETA still leans on it (before the job's first
 * round of images), from a reading polls share for up to 2 s; a failed read falls back to the
 * estimate stored at start.
 */
async function prior(ctx: ToolContext, job: JobRecord): Promise<EtaPrior> {
  const { settings } = ctx.deps;
  const hostRates = ctx.deps.recentHostRates ?? ctx.deps.hostRates;
  const rates =
    hostRates && etaLeansOnEstimate(job, settings.hosts)
      ? await hostRates().catch(() => undefined)
      : undefined;
  return etaPrior(job, settings.calibration, settings.hosts, rates);
}
