import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cellOrigin, SHEET_LIMITS, sheetLayout } from '../../core/contact-sheet/layout.ts';
import { identifyImage } from '../../core/image-format/identify.ts';
import type { EmbeddedStack } from '../../local/stack.ts';
import type { ResultOutput } from '../../mcp-gateway/tools/result.ts';
import { runCli } from '../support/cli.ts';
import { callTool, connectClient, sleep, startTestStack, waitForTerminal } from '../support/embedded.ts';
import { tempDir } from '../support/temp-dir.ts';

/**
 * A GPU host answering JPEG or WebP (SD WebUI's samples_format) all the way to the caller: the
 * result tool's files and links, the stored objects' type, the contact sheet, the preview and the
 * CLI's download all take the images as what they are.
 */

let dir: Awaited<ReturnType<typeof tempDir>>;
let stack: EmbeddedStack;
let client: Client;
let env: Record<string, string>;

beforeAll(async () => {
  dir = await tempDir();
  const dataDir = join(dir.path, '.sdbatch');
  env = { SDBATCH_DATA_DIR: dataDir, XDG_CONFIG_HOME: join(dir.path, 'config') };
  stack = await startTestStack(dataDir);
  client = await connectClient(stack);
});
afterAll(async () => {
  await client?.close();
  await stack?.stop();
  await dir.remove();
});

async function setFormat(samples_format: string) {
  const answer = await fetch(`${stack.sdWebUiUrl}/sdapi/v1/options`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ samples_format }),
  });
  expect(answer.status).toBe(200);
}

/** The job's result page once its contact sheet is drawn (just after it ends). */
async function resultWithSheet(jobId: string) {
  for (let i = 0; ; i++) {
    const answer = await callTool<ResultOutput>(client, 'sdreforge_batch_result', { job_id: jobId });
    if (answer.data.contact_sheet || i === 250) return answer;
    await sleep(20);
  }
}

/** The mean colour of an image, or of a box of it, decoded. */
async function meanColour(
  bytes: Uint8Array,
  box?: { left: number; top: number; width: number; height: number },
) {
  const image = box ? sharp(bytes).extract(box) : sharp(bytes);
  const { data, info } = await image.removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return [0, 1, 2].map((c) => {
    let sum = 0;
    for (let i = c; i < data.length; i += info.channels) sum += data[i] ?? 0;
    return sum / (info.width * info.height);
  });
}

describe.each([
  ['jpg', 'jpg', 'image/jpeg', 'jpeg'],
  ['webp', 'webp', 'image/webp', 'webp'],
] as const)('a host answering samples_format %s', (option, extension, type, format) => {
  it(`lists, serves, draws, previews and downloads its images as .${extension}, ${type}`, async () => {
    await setFormat(option);
    let jobId: string;
    try {
      const start = {
        prompt: 'a heron',
        batch_size: 2,
        n_iter: 2,
        width: 96,
        height: 64,
        steps: 2,
        seed: 700,
      };
      ({
        data: { job_id: jobId },
      } = await callTool<{ job_id: string }>(client, 'sdreforge_batch_start', start));
      expect((await waitForTerminal(client, jobId)).status).toBe('completed');
    } finally {
      await setFormat('png');
    }

    const { result, data } = await resultWithSheet(jobId);
    expect(data.files.map((f) => f.key)).toEqual(
      ['000-0', '000-1', '001-0', '001-1'].map((n) => `jobs/${jobId}/${n}.${extension}`),
    );
    const links = (result.content as Array<{ type: string; name?: string; mimeType?: string }>).filter(
      (c) => c.type === 'resource_link',
    );
    expect(links.map((l) => [l.name, l.mimeType])).toEqual(
      [700, 701, 702, 703].map((seed, k) => [`${jobId}-00${k >> 1}-${k & 1}-seed${seed}.${extension}`, type]),
    );
    const downloads = await Promise.all(
      data.files.map(async (file) => {
        const object = await fetch(file.url);
        expect(object.headers.get('content-type')).toBe(type);
        const bytes = new Uint8Array(await object.arrayBuffer());
        const stored = identifyImage(bytes);
        expect(stored).toMatchObject({ format, width: 96, height: 64 });
        expect([file.width, file.height, file.infotext]).toEqual([96, 64, stored.infotext]);
        return bytes;
      }),
    );

    // The sheet is drawn from the stored images: each thumbnail has its image's colours.
    expect(data.contact_sheet).toMatchObject({ images: 4 });
    const sheet = new Uint8Array(await (await fetch(data.contact_sheet?.url ?? '')).arrayBuffer());
    // A sheet over its byte budget is drawn again smaller, each time at 3/4 of the side before.
    let side: number = SHEET_LIMITS.maxSide;
    while (sheetLayout(4, 96 / 64, side).width > (data.contact_sheet?.width ?? 0))
      side = Math.floor(side * 0.75);
    const layout = sheetLayout(4, 96 / 64, side);
    expect([layout.width, layout.height]).toEqual([data.contact_sheet?.width, data.contact_sheet?.height]);
    for (const [i, bytes] of downloads.entries()) {
      const { left, top } = cellOrigin(layout, i);
      const cell = await meanColour(sheet, {
        left,
        top,
        width: layout.thumbWidth,
        height: layout.thumbHeight,
      });
      const own = await meanColour(bytes);
      for (const [c, v] of cell.entries()) expect(Math.abs(v - (own[c] ?? 0))).toBeLessThanOrEqual(8);
    }

    const preview = await client.callTool({
      name: 'sdreforge_batch_preview',
      arguments: { job_id: jobId, images: [3] },
    });
    const shown = (preview.content as Array<{ type: string; data?: string }>).find((c) => c.type === 'image');
    expect((await sharp(Buffer.from(shown?.data ?? '', 'base64')).metadata()).width).toBeGreaterThan(0);

    const target = join(dir.path, option);
    const downloaded = await runCli(['result', jobId, '--download', target, '--json'], env);
    expect(downloaded).toMatchObject({ code: 0, stderr: '' });
    const names = (await readdir(target)).filter((n) => !['contact-sheet.png', 'manifest.json'].includes(n));
    expect(names.sort()).toEqual(
      ['000-0-seed700', '000-1-seed701', '001-0-seed702', '001-1-seed703'].map((n) => `${n}.${extension}`),
    );
    expect(identifyImage(await readFile(join(target, names[3] ?? ''))).format).toBe(format);
    const manifest = JSON.parse(await readFile(join(target, 'manifest.json'), 'utf8')) as {
      files: Array<{ file: string }>;
    };
    expect(manifest.files.map((f) => f.file)).toEqual(names);
  });
});
