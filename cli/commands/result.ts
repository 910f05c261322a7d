import { mkdir, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { McpSession } from '../mcp-session.ts';
import type { Output } from '../output.ts';
import { progressBar } from '../progress-bar.ts';
import { EXIT_BY_STATUS } from './jobs.ts';

interface ResultPage {
  status: string;
  files: Array<{ url: string; iteration: number; index: number; seed: number }>;
  next_cursor?: string;
  failures: Array<{ iteration: number; error: string }>;
}

/** Every file of the job, page by page. */
async function allFiles(
  mcp: McpSession,
  jobId: string,
): Promise<{ status: string; files: ResultPage['files'] }> {
  const files: ResultPage['files'] = [];
  let cursor: string | undefined;
  let status = '';
  do {
    const page = await mcp.call<ResultPage>('sdreforge_batch_result', {
      job_id: jobId,
      limit: 200,
      contact_sheet: 'omit',
      ...(cursor ? { cursor } : {}),
    });
    files.push(...page.files);
    status = page.status;
    cursor = page.next_cursor;
  } while (cursor);
  return { status, files };
}

/** `003-1-seed1234.png`: sorts by iteration and index, and says which seed remakes it. */
export const fileName = (f: { iteration: number; index: number; seed: number }) =>
  `${String(f.iteration).padStart(3, '0')}-${f.index}-seed${f.seed}.png`;

export async function resultCommand(args: string[], mcp: McpSession, out: Output): Promise<number> {
  const jobId = args.find((a) => !a.startsWith('--'));
  const dirFlag = args.indexOf('--download');
  const dir = dirFlag >= 0 ? args[dirFlag + 1] : undefined;
  if (!jobId || (dirFlag >= 0 && !dir)) {
    out.error('usage: sdbatch result JOB_ID [--download DIR]');
    return 2;
  }
  const { status, files } = await allFiles(mcp, jobId);
  if (!dir) {
    out.result(
      { status, files },
      files.map((f) => `${fileName(f)}\t${f.url}`).join('\n') || 'No images yet.',
    );
    return EXIT_BY_STATUS[status] ?? 1;
  }
  const downloaded = await download(files, dir, out);
  out.live('');
  out.result(
    {
      status,
      directory: dir,
      files: files.length,
      downloaded: downloaded.fetched,
      skipped: downloaded.skipped,
    },
    `${files.length} images in ${dir} (${downloaded.fetched} downloaded, ${downloaded.skipped} already there)`,
  );
  return EXIT_BY_STATUS[status] ?? 1;
}

/**
 * Four at a time; a file already complete is skipped, and a download lands under a temporary
 * name first, so an interrupted run resumes where it stopped.
 */
async function download(files: ResultPage['files'], dir: string, out: Output) {
  await mkdir(dir, { recursive: true });
  let done = 0;
  let fetched = 0;
  let skipped = 0;
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const file = files[next++] as ResultPage['files'][number];
      const target = join(dir, fileName(file));
      if ((await stat(target).catch(() => undefined))?.size) {
        skipped++;
      } else {
        const response = await fetch(file.url);
        if (!response.ok) throw new Error(`download of ${fileName(file)} failed: HTTP ${response.status}`);
        await writeFile(`${target}.part`, Buffer.from(await response.arrayBuffer()));
        await rename(`${target}.part`, target);
        fetched++;
      }
      out.live(`${progressBar(++done, files.length)} downloading`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(4, files.length) }, worker));
  return { fetched, skipped };
}
