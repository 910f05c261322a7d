import { mkdir, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { downloadName } from '../../core/image-key.ts';
import type { ResultFile, ResultOutput } from '../../mcp-gateway/tools/result.ts';
import type { McpSession } from '../mcp-session.ts';
import type { Output } from '../output.ts';
import { bar, fitLine } from '../status-line.ts';
import { misused, withOption } from '../usage.ts';
import { EXIT_BY_STATUS } from './jobs.ts';

type ResultPage = Pick<
  ResultOutput,
  'status' | 'total_images' | 'files' | 'next_cursor' | 'contact_sheet' | 'failures'
>;

/** Every file of the job, page by page, with what the last page says of the job. */
async function allFiles(mcp: McpSession, jobId: string): Promise<Omit<ResultPage, 'next_cursor'>> {
  const files: ResultFile[] = [];
  let cursor: string | undefined;
  let page: ResultPage;
  do {
    page = await mcp.call<ResultPage>('sdreforge_batch_result', {
      job_id: jobId,
      limit: 200,
      contact_sheet: 'omit',
      ...(cursor ? { cursor } : {}),
    });
    files.push(...page.files);
    cursor = page.next_cursor;
  } while (cursor);
  return { ...page, files };
}

export const CONTACT_SHEET = 'contact-sheet.png';
export const MANIFEST = 'manifest.json';

export async function resultCommand(args: string[], mcp: McpSession, out: Output): Promise<number> {
  const parsed = withOption('result', args, 'download');
  if ('wrong' in parsed) return misused(out, parsed.wrong);
  const [jobId, ...extra] = parsed.positionals;
  const dir = parsed.value;
  if (!jobId || extra.length > 0 || dir === '') {
    out.error('usage: sdbatch result JOB_ID [--download DIR]');
    return 2;
  }
  const job = await allFiles(mcp, jobId);
  const { status, files } = job;
  if (dir === undefined) {
    out.result(
      { status, files },
      files.map((f) => `${downloadName(f)}\t${f.url}`).join('\n') || noImages(status),
    );
    return EXIT_BY_STATUS[status] ?? 1;
  }
  const downloaded = await download(files, dir, out);
  const sheet = await downloadContactSheet(mcp, jobId, files.length, dir);
  await writeManifest(dir, jobId, job, sheet);
  out.result(
    {
      status,
      directory: dir,
      files: files.length,
      downloaded: downloaded.fetched,
      skipped: downloaded.skipped,
      contact_sheet: sheet ? CONTACT_SHEET : null,
      manifest: MANIFEST,
    },
    `${files.length} images in ${dir} (${downloaded.fetched} downloaded, ${downloaded.skipped} already there)` +
      `${sheet ? `, the contact sheet in ${CONTACT_SHEET}` : ''}, what each file is in ${MANIFEST}`,
  );
  return EXIT_BY_STATUS[status] ?? 1;
}

/** What a job without images says: "yet" only while it may still make some. */
export function noImages(status: string): string {
  return status === 'pending' || status === 'running'
    ? 'No images yet.'
    : `No images kept: the job is ${status}.`;
}

/**
 * The contact sheet of every image downloaded, as `contact-sheet.png`: the job's own when it has
 * every image (it is drawn just after the job ends), else drawn now from the images so far.
 * Fetched on every run, since a running job's sheet grows.
 */
async function downloadContactSheet(
  mcp: McpSession,
  jobId: string,
  images: number,
  dir: string,
): Promise<{ images: number } | undefined> {
  if (images === 0) return undefined;
  const ask = (contact_sheet: 'include' | 'refresh') =>
    mcp.call<ResultPage>('sdreforge_batch_result', { job_id: jobId, limit: 1, contact_sheet });
  let sheet = (await ask('include')).contact_sheet;
  if (!sheet || sheet.images < images) sheet = (await ask('refresh')).contact_sheet;
  if (!sheet) return undefined;
  await fetchTo(sheet.url, join(dir, CONTACT_SHEET), CONTACT_SHEET);
  return { images: sheet.images };
}

/** `manifest.json`: which seed, iteration, index and parameters made each file, so the folder explains itself. */
async function writeManifest(
  dir: string,
  jobId: string,
  job: Omit<ResultPage, 'next_cursor'>,
  sheet: { images: number } | undefined,
): Promise<void> {
  const manifest = {
    job_id: jobId,
    status: job.status,
    total_images: job.total_images,
    contact_sheet: sheet ? { file: CONTACT_SHEET, images: sheet.images } : null,
    files: job.files.map((f) => ({
      file: downloadName(f),
      seed: f.seed,
      ...(f.subseed === undefined ? {} : { subseed: f.subseed }),
      iteration: f.iteration,
      index: f.index,
      width: f.width,
      height: f.height,
      infotext: f.infotext ?? null,
    })),
    failures: job.failures,
  };
  const target = join(dir, MANIFEST);
  await writeFile(`${target}.part`, `${JSON.stringify(manifest, null, 2)}\n`);
  await rename(`${target}.part`, target);
}

/** One URL to a file, under a temporary name until it is complete. */
async function fetchTo(url: string, target: string, name: string): Promise<void> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`download of ${name} failed: HTTP ${response.status}`);
  await writeFile(`${target}.part`, Buffer.from(await response.arrayBuffer()));
  await rename(`${target}.part`, target);
}

/**
 * Four at a time; a file already complete is skipped, and a download lands under a temporary
 * name first, so an interrupted run resumes where it stopped.
 */
async function download(files: ResultFile[], dir: string, out: Output) {
  await mkdir(dir, { recursive: true });
  let done = 0;
  let fetched = 0;
  let skipped = 0;
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const file = files[next++] as ResultFile;
      const target = join(dir, downloadName(file));
      if ((await stat(target).catch(() => undefined))?.size) {
        skipped++;
      } else {
        await fetchTo(file.url, target, downloadName(file));
        fetched++;
      }
      const count = ++done;
      out.live((width) =>
        fitLine(
          (cells) => bar(count, files.length, cells),
          [{ long: `${count}/${files.length} downloading`, rank: 1 }],
          width,
        ),
      );
    }
  };
  await Promise.all(Array.from({ length: Math.min(4, files.length) }, worker));
  return { fetched, skipped };
}
