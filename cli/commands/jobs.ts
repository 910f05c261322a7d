import type { McpSession } from '../mcp-session.ts';
import type { Output } from '../output.ts';
import { remainingSeconds, type Status, statusLine, steadyEta } from '../status-line.ts';
import { type ToolArguments, toolArguments } from '../tool-flags.ts';
import { type ToolCommand, toolProperties } from '../tool-schemas.ts';
import { misused, withOption } from '../usage.ts';

/** Exit codes scripts can branch on: 0 every image, 3 partial, 4 failed, 5 cancelled, 6 still running. */
export const EXIT_BY_STATUS: Record<string, number> = {
  completed: 0,
  partial: 3,
  failed: 4,
  cancelled: 5,
  pending: 6,
  running: 6,
};

/**
 * The tool's arguments from the command line, each checked against the type the tool's input
 * schema gives it, so a slip ("--batch-sise", "--n-iter" with no value, "--batch-size two") is
 * refused before anything runs instead of starting a job with the default or reaching the server.
 */
function readArguments(command: ToolCommand, args: string[]): ToolArguments | { wrong: string } {
  return toolArguments(args, toolProperties(command));
}

export async function startCommand(args: string[], mcp: McpSession, out: Output): Promise<number> {
  const parsed = readArguments('start', args);
  if ('wrong' in parsed) return misused(out, `${parsed.wrong} (sdbatch start)`);
  const { positional, named } = parsed;
  const prompt = named.prompt ?? positional.join(' ');
  if (!prompt) {
    out.error('usage: sdbatch start "PROMPT" [--batch-size 4 --n-iter 3 --steps 25 --preset NAME ...]');
    return 2;
  }
  const started = await mcp.call<{ job_id: string; total_images: number; estimated_time: string }>(
    'sdreforge_batch_start',
    { ...named, prompt },
  );
  out.result(started, `${started.job_id}: ${started.total_images} images, about ${started.estimated_time}`);
  return 0;
}

export async function statusCommand([jobId]: string[], mcp: McpSession, out: Output): Promise<number> {
  if (!jobId) return usage(out, 'status JOB_ID');
  const status = await mcp.call<Status>('sdreforge_batch_status', { job_id: jobId });
  const eta = remainingSeconds(status);
  out.result(status, (width) => statusLine(status, eta, width));
  return EXIT_BY_STATUS[status.status] ?? 1;
}

const INTERVAL = { min: 0.1, max: 60, default: 1 };

/**
 * Redraws one status line until the job ends (when piped, one line per change of the finished
 * count); the exit code says how it ended.
 */
export async function watchCommand(args: string[], mcp: McpSession, out: Output): Promise<number> {
  const parsed = withOption('watch', args, 'interval');
  if ('wrong' in parsed) return misused(out, parsed.wrong);
  const { value, positionals } = parsed;
  const [jobId] = positionals;
  if (!jobId || positionals.length > 1) return usage(out, 'watch JOB_ID [--interval SECONDS]');
  const interval = Number(value ?? INTERVAL.default);
  if (!(interval >= INTERVAL.min && interval <= INTERVAL.max)) {
    return misused(out, `--interval must be seconds from ${INTERVAL.min} to ${INTERVAL.max}, not ${value}`);
  }
  const shownEta = steadyEta();
  for (;;) {
    const status = await mcp.call<Status>('sdreforge_batch_status', { job_id: jobId });
    if (status.poll_after_seconds === null) {
      out.result(status, (width) => statusLine(status, null, width));
      return EXIT_BY_STATUS[status.status] ?? 1;
    }
    const eta = shownEta(status, remainingSeconds(status));
    out.live((width) => statusLine(status, eta, width), `${status.completed_images}+${status.failed_images}`);
    out.update(status);
    await new Promise((r) => setTimeout(r, interval * 1000));
  }
}

export async function cancelCommand([jobId]: string[], mcp: McpSession, out: Output): Promise<number> {
  if (!jobId) return usage(out, 'cancel JOB_ID');
  const result = await mcp.call<CancelOutput>('sdreforge_batch_cancel', { job_id: jobId });
  out.result(result, cancelMessage(result));
  return 0;
}

/** What the cancel tool answers (mcp-gateway/tools/cancel.ts). */
export interface CancelOutput {
  job_id: string;
  status: string;
  cancelled: boolean;
  completed_images: number;
  still_finishing_images?: number;
  message: string;
}

/**
 * The cancel in CLI words. A call already on the GPU is interrupted when the job's runner next
 * looks (within a second) and its partly sampled images are dropped; one that ends before that
 * is stored like any other (core/workflow/host-call.ts), so `sdbatch result` may list a few more.
 */
export function cancelMessage(c: CancelOutput): string {
  if (!c.cancelled) return c.message;
  const { job_id: job, completed_images: made } = c;
  const kept =
    made === 0
      ? 'no image was made before it'
      : `the ${made} image${made === 1 ? ' made before it is' : 's made before it are'} kept`;
  const finishing = c.still_finishing_images
    ? ` Calls on the GPU are interrupted and their images dropped; one that ends before its interrupt (up to ${c.still_finishing_images} images) is kept.`
    : '';
  const list = made > 0 || finishing ? ` sdbatch result ${job} lists what is kept.` : '';
  return `${job} cancelled: ${kept}.${finishing}${list}`;
}

export async function listCommand(args: string[], mcp: McpSession, out: Output): Promise<number> {
  const parsed = readArguments('list', args);
  if ('wrong' in parsed) return misused(out, `${parsed.wrong} (sdbatch list)`);
  const { named } = parsed;
  const page = await mcp.call<{ jobs: Array<Record<string, unknown>>; next_cursor?: string }>(
    'sdreforge_batch_list',
    named,
  );
  const lines = page.jobs.map(
    (j) => `${j.job_id}\t${j.status}\t${j.completed_images}/${j.total_images}\t${j.created_at}\t${j.prompt}`,
  );
  const more = page.next_cursor ? `\n(more: --cursor ${page.next_cursor})` : '';
  out.result(page, `${lines.join('\n') || 'No jobs.'}${more}`);
  return 0;
}

export async function presetsCommand(_args: string[], mcp: McpSession, out: Output): Promise<number> {
  const list = await mcp.call<{
    default_preset: string;
    presets: Array<{ name: string; description?: string }>;
  }>('sdreforge_presets', {});
  const lines = list.presets.map(
    (p) => `${p.name}${p.name === list.default_preset ? ' (default)' : ''}\t${p.description ?? ''}`,
  );
  out.result(list, lines.join('\n'));
  return 0;
}

function usage(out: Output, text: string): number {
  out.error(`usage: sdbatch ${text}`);
  return 2;
}
