import type { CallToolResult } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { InvalidRequestError } from '../../core/errors.ts';
import type { JobRecord } from '../../core/job.ts';
import { renderJobContactSheet } from '../../core/workflow/render-contact-sheet.ts';
import type { ToolContext } from '../deps.ts';
import { toolInput } from '../tool-input.ts';
import { safely } from '../tool-result.ts';
import { getOwnedJob } from './owned-job.ts';
import type { ToolHost } from './tool-host.ts';

/**
 * Image bytes in one answer. Claude Code caps a tool result at 25,000 tokens, images included;
 * base64 of this much stays under it even counted as text (4 characters a token).
 */
export const PREVIEW_BUDGET_BYTES = 54_000;
export const MAX_PREVIEW_IMAGES = 12;

export const PreviewInput = toolInput({
  job_id: z.string().min(1).max(64).describe('The job_id sdreforge_batch_start returned.'),
  images: z
    .array(z.number().int().min(0).max(799))
    .min(1)
    .max(MAX_PREVIEW_IMAGES)
    .optional()
    .describe(
      `Image numbers k to look at (image k has seed + k), up to ${MAX_PREVIEW_IMAGES}; without it, the contact sheet of every image.`,
    ),
});
export type PreviewInput = z.infer<typeof PreviewInput>;

export function registerPreviewTool(server: ToolHost, ctx: ToolContext): void {
  server.registerTool(
    'sdreforge_batch_preview',
    {
      title: 'Look at a batch',
      description:
        "Shows a job's images to you as pictures: the contact sheet of every image (each labelled with its " +
        'seed), or the images you name by number, as small JPEGs that fit in one answer. Use it to judge ' +
        'results and pick seeds; sdreforge_batch_result gives the full-size download URLs.',
      inputSchema: PreviewInput,
      // No outputSchema on purpose: clients that see structuredContent show the model only that, and
      // drop the images this tool exists to show.
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    (input) => safely(() => preview(ctx, input)),
  );
}

export async function preview(ctx: ToolContext, input: PreviewInput): Promise<CallToolResult> {
  const { deps } = ctx;
  if (!deps.shrinkImage) throw new InvalidRequestError('previews are not available on this server');
  const shrink = deps.shrinkImage;
  const job = await getOwnedJob(ctx, input.job_id);
  const chosen = input.images ? await chosenImages(ctx, job, input.images) : await contactSheet(ctx, job);
  const each = Math.floor(PREVIEW_BUDGET_BYTES / chosen.length);
  const originals = await Promise.all(chosen.map((image) => deps.images.get(image.key)));
  const smalls = await sameSize(originals, (bytes, side) => shrink(bytes, each, side));
  const content: CallToolResult['content'] = [];
  for (const [i, image] of chosen.entries()) {
    const small = smalls[i] as Shrunk;
    content.push({ type: 'text', text: `${image.caption} (${small.width}x${small.height} preview)` });
    content.push({ type: 'image', data: small.jpeg.toString('base64'), mimeType: 'image/jpeg' });
  }
  return { content };
}

type Shrunk = Awaited<ReturnType<NonNullable<ToolContext['deps']['shrinkImage']>>>;
const longSide = (s: Shrunk) => Math.max(s.width, s.height);

/**
 * The images shrunk to fit the budget, all at the size the hardest to compress needed: images of
 * one call compared side by side at different sizes (288 and 384 px) misled the eye. A smaller
 * side only ever makes fewer bytes, so the loop ends once no image needs less than the rest.
 */
async function sameSize(
  originals: Uint8Array[],
  shrink: (bytes: Uint8Array, side?: number) => Promise<Shrunk>,
): Promise<Shrunk[]> {
  // One at a time: a gateway's memory holds one decoded image, not twelve.
  const smalls: Shrunk[] = [];
  for (const bytes of originals) smalls.push(await shrink(bytes));
  for (;;) {
    const side = Math.min(...smalls.map(longSide));
    if (smalls.every((s) => longSide(s) === side)) return smalls;
    for (const [i, bytes] of originals.entries()) {
      if (longSide(smalls[i] as Shrunk) !== side) smalls[i] = await shrink(bytes, side);
    }
  }
}

async function contactSheet(ctx: ToolContext, job: JobRecord) {
  let sheet = job.contact_sheet;
  // Drawn from the images so far when the job has none yet, or more images than its sheet.
  if ((!sheet || sheet.images < job.completed_images) && ctx.deps.renderContactSheet) {
    sheet = (
      await renderJobContactSheet(
        { job_id: job.job_id },
        { ...ctx.deps, render: ctx.deps.renderContactSheet },
      )
    ).sheet;
  }
  if (!sheet) throw new InvalidRequestError(`${job.job_id} has no images yet; look again once some are done`);
  return [
    {
      key: sheet.key,
      caption: `Contact sheet of ${job.job_id}: ${sheet.images} of ${job.total_images} images, each labelled with its seed`,
    },
  ];
}

async function chosenImages(ctx: ToolContext, job: JobRecord, numbers: number[]) {
  const perCall = job.params.batch_size;
  const iterations = new Map(
    (await ctx.deps.jobs.listIterations(job.job_id))
      .filter((it) => it.status === 'succeeded')
      .map((it) => [it.iteration, it]),
  );
  const missing: number[] = [];
  const chosen = numbers.flatMap((k) => {
    const image = iterations.get(Math.floor(k / perCall))?.images.find((i) => i.index === k % perCall);
    if (!image) missing.push(k);
    return image ? [{ key: image.key, caption: `Image ${k}, seed ${image.seed}` }] : [];
  });
  if (missing.length > 0) {
    throw new InvalidRequestError(
      `images: ${missing.join(', ')} not made (yet) in ${job.job_id}; it has images 0-${job.total_images - 1}, ${job.completed_images} done`,
    );
  }
  return chosen;
}
