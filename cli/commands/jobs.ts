import { LIMITS } from '../../core/limits.ts';
import { unknownName } from '../../core/params/unknown-name.ts';
import type { McpSession } from '../mcp-session.ts';
import type { Output } from '../output.ts';
import { remainingSeconds, type Status, statusLine, steadyEta } from '../status-line.ts';
import { GLOBAL_FLAGS, misused, withOption } from '../usage.ts';

/** Exit codes scripts can branch on: 0 every image, 3 partial, 4 failed, 5 cancelled, 6 still running. */
export const EXIT_BY_STATUS: Record<string, number> = {
  completed: 0,
  partial: 3,
  failed: 4,
  cancelled: 5,
  pending: 6,
  running: 6,
};

interface ToolArguments {
  positional: string[];
  named: Record<string, unknown>;
  /** Each argument's flag as typed (`--batch-size`), for messages. */
  typed: Record<string, string>;
}

/** `--batch-size 4 --hr_scale 1.5 --adetailer '[{"model":"face_yolov8n.pt"}]'`: any tool argument. */
export function toolArguments(args: string[]): ToolArguments {
  const result: ToolArguments = { positional: [], named: {}, typed: {} };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (!arg.startsWith('--')) {
      result.positional.push(arg);
      continue;
    }
    const [rawKey, inline] = arg.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    const value = inline ?? args[++i] ?? 'true';
    const key = rawKey.replaceAll('-', '_');
    result.named[key] = parseValue(value);
    result.typed[key] = `--${rawKey}`;
  }
  return result;
}

/**
 * A flag the tool does not take, refused before anything runs ("unknown flag --batch-sise; did
 * you mean --batch-size?"), so a slip never starts a job with the default instead.
 */
async function unknownFlag(mcp: McpSession, tool: string, args: ToolArguments): Promise<string | undefined> {
  // Listing the tools is a round trip: only flags need it.
  if (Object.keys(args.named).length === 0) return undefined;
  const names = await mcp.argumentNames(tool);
  const wrong = Object.keys(args.named).find((key) => !names.includes(key));
  if (wrong === undefined) return undefined;
  const flags = [...names.map((n) => `--${n.replaceAll('_', '-')}`), ...GLOBAL_FLAGS];
  return unknownName('flag', args.typed[wrong] as string, flags);
}

function parseValue(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

export async function startCommand(args: string[], mcp: McpSession, out: Output): Promise<number> {
  const parsed = toolArguments(args);
  const { positional, named } = parsed;
  const wrong = await unknownFlag(mcp, 'sdreforge_batch_start', parsed);
  if (wrong) return misused(out, `${wrong} (sdbatch start)`);
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

/**
 * Images one SD WebUI call makes (the job's batch_size), from its first finished images: an
 * iteration's images are stored together, indexed from 0, and the first page holds a whole one.
 */
async function imagesPerCall(mcp: McpSession, jobId: string): Promise<number | undefined> {
  const page = await mcp.call<{ files: Array<{ index: number }> }>('sdreforge_batch_result', {
    job_id: jobId,
    limit: LIMITS.batchSize.max,
    contact_sheet: 'omit',
  });
  return page.files.length > 0 ? Math.max(...page.files.map((f) => f.index)) + 1 : undefined;
}

/** Whether the ETA can count the running call's steps, which needs the images per call. */
const needsImagesPerCall = (s: Status) =>
  s.poll_after_seconds !== null && s.current !== null && s.completed_images > 0;

export async function statusCommand([jobId]: string[], mcp: McpSession, out: Output): Promise<number> {
  if (!jobId) return usage(out, 'status JOB_ID');
  const status = await mcp.call<Status>('sdreforge_batch_status', { job_id: jobId });
  const perCall = needsImagesPerCall(status) ? await imagesPerCall(mcp, jobId) : undefined;
  const eta = remainingSeconds(status, perCall);
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
  let perCall: number | undefined;
  const shownEta = steadyEta();
  for (;;) {
    const status = await mcp.call<Status>('sdreforge_batch_status', { job_id: jobId });
    if (status.poll_after_seconds === null) {
      out.result(status, (width) => statusLine(status, null, width));
      return EXIT_BY_STATUS[status.status] ?? 1;
    }
    if (perCall === undefined && needsImagesPerCall(status)) perCall = await imagesPerCall(mcp, jobId);
    const eta = shownEta(status, remainingSeconds(status, perCall));
    out.live((width) => statusLine(status, eta, width), `${status.completed_images}+${status.failed_images}`);
    out.update(status);
    await new Promise((r) => setTimeout(r, interval * 1000));
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
  const parsed = toolArguments(args);
  const { named } = parsed;
  const wrong = await unknownFlag(mcp, 'sdreforge_batch_list', parsed);
  if (wrong) return misused(out, `${wrong} (sdbatch list)`);
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
