import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digitLabel } from '../../core/contact-sheet/digits.ts';
import { cellOrigin, SHEET_LIMITS, sheetLayout } from '../../core/contact-sheet/layout.ts';
import { callTool, openTestStack, sleep } from '../support/embedded.ts';

let client: Client;
let close: () => Promise<void>;

beforeAll(async () => {
  ({ client, close } = await openTestStack());
});
afterAll(() => close?.());

interface Result {
  message: string;
  files: Array<{ url: string; seed: number }>;
  next_cursor?: string;
  contact_sheet: { url: string; width: number; height: number; images: number } | null;
}

async function finished(args: Record<string, unknown>): Promise<string> {
  const { data } = await callTool<{ job_id: string }>(client, 'sdreforge_batch_start', args);
  for (let i = 0; i < 500; i++) {
    const { data: s } = await callTool<{ status: string }>(client, 'sdreforge_batch_status', {
      job_id: data.job_id,
    });
    if (s.status === 'completed') return data.job_id;
    await sleep(20);
  }
  throw new Error('job did not complete');
}

describe('the contact sheet', () => {
  it('is rendered when the job ends and returned as bounded image content with its seeds drawn', async () => {
    const jobId = await finished({
      prompt: 'sheet',
      batch_size: 4,
      n_iter: 3,
      width: 96,
      height: 64,
      steps: 2,
      seed: 9000,
    });
    // The sheet is drawn right after the job is marked completed.
    let answer = await callTool<Result>(client, 'sdreforge_batch_result', { job_id: jobId });
    for (let i = 0; i < 250 && !answer.data.contact_sheet; i++) {
      expect(answer.data.message).toMatch(/contact sheet is being drawn/);
      await sleep(20);
      answer = await callTool<Result>(client, 'sdreforge_batch_result', { job_id: jobId });
    }
    const { result, data } = answer;
    const image = (result.content as Array<{ type: string; data?: string; mimeType?: string }>).find(
      (c) => c.type === 'image',
    );
    expect(image?.mimeType).toBe('image/png');
    const png = Buffer.from(image?.data ?? '', 'base64');
    expect(png.length).toBeLessThanOrEqual(1024 * 1024);
    const layout = sheetLayout(12, 96 / 64);
    const { data: pixels, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([layout.width, layout.height]);
    expect(Math.max(info.width, info.height)).toBeLessThanOrEqual(SHEET_LIMITS.maxSide);
    expect(data.contact_sheet).toMatchObject({ width: layout.width, height: layout.height, images: 12 });

    // Under each thumbnail, its seed, drawn exactly.
    for (const i of [0, 5, 11]) {
      const { left, top } = cellOrigin(layout, i);
      const expected = digitLabel(String(9000 + i), layout.thumbWidth, SHEET_LIMITS.labelHeight);
      const row = (y: number) =>
        pixels.subarray(
          ((top + layout.thumbHeight + y) * info.width + left) * info.channels,
          ((top + layout.thumbHeight + y) * info.width + left + layout.thumbWidth) * info.channels,
        );
      for (let y = 0; y < SHEET_LIMITS.labelHeight; y++) {
        expect(
          Buffer.from(row(y)).equals(
            Buffer.from(expected.subarray(y * layout.thumbWidth * 3, (y + 1) * layout.thumbWidth * 3)),
          ),
        ).toBe(true);
      }
    }
    const download = await fetch(data.contact_sheet?.url ?? '');
    expect(Buffer.from(await download.arrayBuffer()).equals(png)).toBe(true);

    const links = (result.content as Array<{ type: string; name?: string; uri?: string }>).filter(
      (c) => c.type === 'resource_link',
    );
    expect(links).toHaveLength(12);
    expect(links[3]?.name).toBe(`${jobId}-000-3-seed9003.png`);
  });

  it('pages the files with an opaque cursor', async () => {
    const jobId = await finished({
      prompt: 'pages',
      batch_size: 3,
      n_iter: 4,
      width: 64,
      height: 64,
      steps: 1,
      seed: 1,
    });
    const seeds: number[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const { data } = await callTool<Result>(client, 'sdreforge_batch_result', {
        job_id: jobId,
        limit: 5,
        contact_sheet: 'omit',
        ...(cursor ? { cursor } : {}),
      });
      expect(data.contact_sheet).toBeNull();
      seeds.push(...data.files.map((f) => f.seed));
      cursor = data.next_cursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seeds).toEqual(Array.from({ length: 12 }, (_, k) => 1 + k));
    const bad = await callTool(client, 'sdreforge_batch_result', { job_id: jobId, cursor: 'bogus' });
    expect(bad.result.isError).toBe(true);
  });

  it('is drawn on demand while the job runs', async () => {
    const { data } = await callTool<{ job_id: string }>(client, 'sdreforge_batch_start', {
      prompt: 'slow',
      n_iter: 40,
      steps: 20,
      width: 64,
      height: 64,
    });
    for (let i = 0; i < 500; i++) {
      const { data: s } = await callTool<{ completed_images: number }>(client, 'sdreforge_batch_status', {
        job_id: data.job_id,
      });
      if (s.completed_images >= 2) break;
      await sleep(20);
    }
    const { data: result } = await callTool<Result>(client, 'sdreforge_batch_result', {
      job_id: data.job_id,
      contact_sheet: 'refresh',
    });
    expect(result.contact_sheet?.images).toBeGreaterThanOrEqual(2);
    expect(result.contact_sheet?.images).toBeLessThan(40);
    await callTool(client, 'sdreforge_batch_cancel', { job_id: data.job_id });
  });
});
