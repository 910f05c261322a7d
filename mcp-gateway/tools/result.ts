import type { CallToolResult } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { formatOfKey } from '../../core/image-format/formats.ts';
import { downloadName } from '../../core/image-key.ts';
import { isTerminal, type JobRecord, JobStatus, StoredImage } from '../../core/job.ts';
import { renderJobContactSheet } from '../../core/workflow/render-contact-sheet.ts';
import { ANSWER_BUDGET_BYTES, enveloped, largestFitting } from '../answer-size.ts';
import type { ToolContext } from '../deps.ts';
import { decodeOffsetCursor, encodeOffsetCursor } from '../page-cursor.ts';
import { toolInput } from '../tool-input.ts';
import { safely } from '../tool-result.ts';
import { getOwnedJob } from './owned-job.ts';
import type { ToolHost } from './tool-host.ts';

/** A stored image as the result tool lists it: where to download it, and which iteration it is. */
export const ResultFile = StoredImage.extend({
  url: z
    .string()
    .describe(
      'Presigned GET URL of the image, a PNG, JPEG or WebP as the GPU host made it (the extension says which); valid until expires_at.',
    ),
  iteration: z.number().int(),
  infotext: StoredImage.shape.infotext.describe('SD WebUI generation parameters, as in the image file.'),
});
export type ResultFile = z.infer<typeof ResultFile>;

export const ResultOutput = z.object({
  job_id: z.string(),
  status: JobStatus,
  total_images: z.number().int(),
  completed_images: z.number().int(),
  files: z.array(ResultFile).describe('This page of images, in iteration and index order.'),
  next_cursor: z.string().optional().describe('Pass as cursor for the next page; absent on the last one.'),
  contact_sheet: z
    .object({
      url: z.string(),
      // Always sent (the sheet as stored, plus its URL); declared so clients checking the schema accept it.
      key: z.string(),
      width: z.number(),
      height: z.number(),
      images: z.number(),
      rendered_at: z.string(),
    })
    .nullable()
    .describe('One PNG grid of every image with its seed; also attached as image content.'),
  failures: z.array(z.object({ iteration: z.number().int(), error: z.string() })),
  expires_at: z.string().describe('When the URLs stop working; call again for fresh ones.'),
  message: z.string(),
});

export const ResultInput = toolInput({
  job_id: z.string().min(1).max(64).describe('The job_id sdreforge_batch_start returned.'),
  cursor: z.string().max(512).optional().describe('next_cursor of the previous page.'),
  limit: z
    .number()
    .int()
    .min(1)
    .max(200)
    .optional()
    .describe(
      'Files per page (1-200, default 50); a page of very long prompts may hold fewer, next_cursor says.',
    ),
  contact_sheet: z
    .enum(['include', 'refresh', 'omit'])
    .optional()
    .describe(
      'include (default): attach the last rendered sheet; refresh: draw it now from the images so far; omit.',
    ),
});
export type ResultInput = z.infer<typeof ResultInput>;
export type ResultOutput = z.infer<typeof ResultOutput>;

const MAX_INLINE_SHEET_BYTES = 1024 * 1024;
const DEFAULT_PAGE_SIZE = 50;

export function registerResultTool(server: ToolHost, ctx: ToolContext): void {
  server.registerTool(
    'sdreforge_batch_result',
    {
      title: 'Images of a batch',
      description:
        "Download URLs (presigned, short-lived) of a job's images with each image's seed, a page at a time, " +
        'plus a contact sheet (one grid image of every result with its seed) to look at. Works while the job ' +
        'runs (images finished so far; contact_sheet "refresh" redraws the sheet) and after it ends. ' +
        'Call again for fresh URLs once expires_at has passed.',
      inputSchema: ResultInput,
      outputSchema: ResultOutput,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    (input) => safely(() => resultPage(ctx, input)),
  );
}

/** One page of a job's images; another caller's job is not found, like one that does not exist. */
export async function resultPage(ctx: ToolContext, input: ResultInput): Promise<CallToolResult> {
  const { job_id, cursor, limit, contact_sheet } = input;
  const { deps } = ctx;
  let job = await getOwnedJob(ctx, job_id);
  const offset = decodeOffsetCursor(job_id, cursor);
  if (contact_sheet === 'refresh' && deps.renderContactSheet) {
    await renderJobContactSheet({ job_id }, { ...deps, render: deps.renderContactSheet });
    job = await getOwnedJob(ctx, job_id);
  }
  return jobResultPage(ctx, job, {
    offset,
    pageSize: limit ?? DEFAULT_PAGE_SIZE,
    contactSheet: contact_sheet !== 'omit',
  });
}

/** The page the result tool answers when given only the job id. */
export const firstResultPage = (ctx: ToolContext, job: JobRecord): Promise<CallToolResult> =>
  jobResultPage(ctx, job, { offset: 0, pageSize: DEFAULT_PAGE_SIZE, contactSheet: true });

/** The page of the caller's job starting at offset, as sdreforge_batch_result answers it. */
export async function jobResultPage(
  ctx: ToolContext,
  job: JobRecord,
  { offset, pageSize, contactSheet }: { offset: number; pageSize: number; contactSheet: boolean },
): Promise<CallToolResult> {
  const { deps } = ctx;
  const { job_id } = job;
  const iterations = (await deps.jobs.listIterations(job_id)).sort((a, b) => a.iteration - b.iteration);
  const all = iterations.flatMap((it) => it.images.map((image) => ({ ...image, iteration: it.iteration })));
  const page = all.slice(offset, offset + pageSize);
  const ttl = deps.settings.urlTtlSeconds;
  // Signed afresh on every call: the earliest expiry of the page is the one to report.
  let expiresAt = new Date(deps.now().getTime() + ttl * 1000);
  const sign = async (key: string) => {
    const signed = await deps.images.presignGet(key, ttl);
    if (signed.expiresAt < expiresAt) expiresAt = signed.expiresAt;
    return signed.url;
  };
  const files = await Promise.all(
    page.map(async (image) => ({
      url: await sign(image.key),
      key: image.key,
      iteration: image.iteration,
      index: image.index,
      seed: image.seed,
      subseed: image.subseed,
      width: image.width,
      height: image.height,
      infotext: image.infotext,
    })),
  );
  const sheet = job.contact_sheet && contactSheet ? job.contact_sheet : undefined;
  const sheetView = sheet ? { ...sheet, url: await sign(sheet.key) } : null;
  const sheetPng = sheet ? await deps.images.get(sheet.key) : undefined;
  const failures = iterations
    .filter((it) => it.status === 'failed')
    .map((it) => ({ iteration: it.iteration, error: `${it.error?.type}: ${it.error?.message}` }));
  const drawing =
    isTerminal(job.status) && !job.contact_sheet && all.length > 0
      ? ' The contact sheet is being drawn.'
      : '';

  /** The answer with the first n files of the page; the cursor goes on after them. */
  const answer = (n: number): CallToolResult => {
    const shown = files.slice(0, n);
    const nextCursor = offset + n < all.length ? encodeOffsetCursor(job_id, offset + n) : undefined;
    const message = describe(job, all.length, shown.length, offset, nextCursor !== undefined) + drawing;
    const content: CallToolResult['content'] = [{ type: 'text', text: message }];
    if (sheetPng && sheetPng.length <= MAX_INLINE_SHEET_BYTES) {
      content.push({ type: 'image', data: Buffer.from(sheetPng).toString('base64'), mimeType: 'image/png' });
    }
    for (const file of shown) {
      const type = formatOfKey(file.key)?.contentType;
      content.push({
        type: 'resource_link',
        uri: file.url,
        name: `${job_id}-${downloadName(file)}`,
        ...(type ? { mimeType: type } : {}),
        description: `iteration ${file.iteration}, image ${file.index}, seed ${file.seed}`,
      });
    }
    const structuredContent = {
      job_id,
      status: job.status,
      total_images: job.total_images,
      completed_images: all.length,
      files: shown,
      next_cursor: nextCursor,
      contact_sheet: sheetView,
      failures,
      expires_at: expiresAt.toISOString(),
      message,
    };
    return { content, structuredContent };
  };
  // Long prompts make long infotexts: a page holds what fits a Function URL's answer, and the
  // cursor picks up the rest.
  return answer(largestFitting(files.length, (n) => enveloped(answer(n)), ANSWER_BUDGET_BYTES));
}

function describe(job: JobRecord, ready: number, shown: number, offset: number, more: boolean): string {
  const running = isTerminal(job.status) ? '' : ' The job is still running; ask again for the rest.';
  const range =
    shown > 0 ? ` Files ${offset + 1}-${offset + shown}${more ? '; more with next_cursor' : ''}.` : '';
  return `${ready} of ${job.total_images} images ready (${job.status}).${range}${running}`;
}
