import { z } from 'zod';
import { hasExpired, JobStatus } from '../../core/job.ts';
import type { JobListQuery, JobPage } from '../../core/ports.ts';
import type { ToolContext } from '../deps.ts';
import { safely, toolResult } from '../tool-result.ts';
import { ListInput } from './inputs.ts';
import type { ToolHost } from './tool-host.ts';

export const ListOutput = z.object({
  jobs: z.array(
    z.object({
      job_id: z.string(),
      status: JobStatus,
      created_at: z.string(),
      prompt: z.string().describe('The first 100 characters.'),
      completed_images: z.number().int(),
      total_images: z.number().int(),
    }),
  ),
  next_cursor: z.string().optional().describe('Pass as cursor for the next page; absent on the last page.'),
});

export function registerListTool(server: ToolHost, ctx: ToolContext): void {
  server.registerTool(
    'sdreforge_batch_list',
    {
      title: 'List my batches',
      description:
        'Your jobs, newest first, optionally only those with one status. Pages with cursor / next_cursor.',
      inputSchema: ListInput,
      outputSchema: ListOutput,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    ({ status, cursor, limit }) =>
      safely(async () => {
        const page = await listOwnJobs(ctx, { status, cursor, limit: limit ?? 20 });
        const jobs = page.jobs.map((j) => ({
          job_id: j.job_id,
          status: j.status,
          created_at: j.created_at,
          prompt: j.params.prompt.slice(0, 100),
          completed_images: j.completed_images,
          total_images: j.total_images,
        }));
        const more = page.nextCursor ? ' More with next_cursor.' : '';
        return toolResult(`${jobs.length} jobs.${more}`, { jobs, next_cursor: page.nextCursor });
      }),
  );
}

/**
 * The caller's jobs not yet expired, newest first, a page at a time with the store's opaque
 * cursor (the list tool and tasks/list both page this way).
 */
export async function listOwnJobs(ctx: ToolContext, query: JobListQuery): Promise<JobPage> {
  const page = await ctx.deps.jobs.listByOwner(ctx.caller.id, query);
  const now = ctx.deps.now().getTime();
  return { ...page, jobs: page.jobs.filter((j) => !hasExpired(j, now)) };
}
