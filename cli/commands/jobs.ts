import type { McpSession } from '../mcp-session.ts';
import type { Output } from '../output.ts';
import { progressBar } from '../progress-bar.ts';

export interface Status {
  job_id: string;
  status: string;
  completed_images: number;
  failed_images: number;
  total_images: number;
  progress: string;
  elapsed_time: string;
  estimated_remaining: string | null;
  current: { iteration: number; step: number; steps: number } | null;
  poll_after_seconds: number | null;
  notes?: string[];
}

/** Exit codes scripts can branch on: 0 every image, 3 partial, 4 failed, 5 cancelled, 6 still running. */
export const EXIT_BY_STATUS: Record<string, number> = {
  completed: 0,
  partial: 3,
  failed: 4,
  cancelled: 5,
  pending: 6,
  running: 6,
};

/** `--batch-size 4 --hr_scale 1.5 --adetailer '[{"model":"face_yolov8n.pt"}]'`: any tool argument. */
export function toolArguments(args: string[]): { positional: string[]; named: Record<string, unknown> } {
  const positional: string[] = [];
  const named: Record<string, unknown> = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const [rawKey, inline] = arg.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    const value = inline ?? args[++i] ?? 'true';
    named[rawKey.replaceAll('-', '_')] = parseValue(value);
  }
  return { positional, named };
}

function parseValue(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

export async function startCommand(args: string[], mcp: McpSession, out: Output): Promise<number> {
  const { positional, named } = toolArguments(args);
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

export const statusLine = (s: Status): string => {
  const step = s.current
    ? ` · step ${s.current.step}/${s.current.steps} of iteration ${s.current.iteration}`
    : '';
  const eta = s.estimated_remaining ? ` · ETA ${s.estimated_remaining}` : '';
  const failed = s.failed_images > 0 ? ` · ${s.failed_images} failed` : '';
  return `${progressBar(s.completed_images, s.total_images)} ${s.status}${failed}${step} · ${s.elapsed_time} elapsed${eta}`;
};

export async function statusCommand([jobId]: string[], mcp: McpSession, out: Output): Promise<number> {
  if (!jobId) return usage(out, 'status JOB_ID');
  const status = await mcp.call<Status>('sdreforge_batch_status', { job_id: jobId });
  out.result(status, statusLine(status));
  return EXIT_BY_STATUS[status.status] ?? 1;
}

/** Redraws one status line until the job ends; the exit code says how it ended. */
export async function watchCommand(
  [jobId]: string[],
  mcp: McpSession,
  out: Output,
  intervalMs = 1000,
): Promise<number> {
  if (!jobId) return usage(out, 'watch JOB_ID');
  for (;;) {
    const status = await mcp.call<Status>('sdreforge_batch_status', { job_id: jobId });
    if (status.poll_after_seconds === null) {
      out.live('');
      out.result(status, statusLine(status));
      return EXIT_BY_STATUS[status.status] ?? 1;
    }
    out.live(statusLine(status));
    if (out.json) process.stdout.write(`${JSON.stringify(status)}\n`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export async function cancelCommand([jobId]: string[], mcp: McpSession, out: Output): Promise<number> {
  if (!jobId) return usage(out, 'cancel JOB_ID');
  const result = await mcp.call<{ message: string; status: string }>('sdreforge_batch_cancel', {
    job_id: jobId,
  });
  out.result(result, result.message);
  return 0;
}

export async function listCommand(args: string[], mcp: McpSession, out: Output): Promise<number> {
  const { named } = toolArguments(args);
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
