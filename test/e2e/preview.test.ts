import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PREVIEW_BUDGET_BYTES } from '../../mcp-gateway/tools/preview.ts';
import { callTool, openTestStack, waitForTerminal } from '../support/embedded.ts';

let client: Client;
let close: () => Promise<void>;

beforeAll(async () => {
  ({ client, close } = await openTestStack({ SDBATCH_SIM_STEP_MS: '2' }));
});
afterAll(() => close?.());

/** The image items of a result, decoded, with what sharp reads of each. */
async function pictures(result: CallToolResult) {
  const images = result.content.filter((c) => c.type === 'image');
  return Promise.all(
    images.map(async (image) => ({
      mimeType: image.mimeType,
      base64: image.data.length,
      meta: await sharp(Buffer.from(image.data, 'base64')).metadata(),
    })),
  );
}

describe('sdreforge_batch_preview', () => {
  let jobId: string;
  beforeAll(async () => {
    const { data } = await callTool<{ job_id: string }>(client, 'sdreforge_batch_start', {
      prompt: 'a lighthouse',
      width: 768,
      height: 512,
      batch_size: 2,
      n_iter: 6,
    });
    jobId = data.job_id;
    await waitForTerminal(client, jobId);
  });

  it('shows the contact sheet as image content only, sized to fit a client’s answer cap', async () => {
    const { result } = await callTool(client, 'sdreforge_batch_preview', { job_id: jobId });
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toBeUndefined();
    const [sheet, ...more] = await pictures(result);
    expect(more).toEqual([]);
    expect(sheet).toMatchObject({ mimeType: 'image/jpeg', meta: { format: 'jpeg' } });
    expect(sheet?.base64).toBeLessThanOrEqual((PREVIEW_BUDGET_BYTES * 4) / 3 + 4);
    expect(JSON.stringify(result.content)).toMatch(/12 of 12 images, each labelled with its seed/);
  });

  it('shows the images named by number, each with its seed, within the same budget', async () => {
    const { result } = await callTool(client, 'sdreforge_batch_preview', {
      job_id: jobId,
      images: [0, 5, 11],
    });
    const shown = await pictures(result);
    expect(shown).toHaveLength(3);
    const total = shown.reduce((sum, p) => sum + p.base64, 0);
    expect(total).toBeLessThanOrEqual((PREVIEW_BUDGET_BYTES * 4) / 3 + 12);
    // The picture keeps the image's shape.
    for (const p of shown) expect((p.meta.width ?? 0) / (p.meta.height ?? 1)).toBeCloseTo(1.5, 1);
    const captions = result.content.filter((c) => c.type === 'text').map((c) => c.text);
    expect(captions[1]).toMatch(/^Image 5, seed \d+/);
  });

  it('shows the images of one answer at one size, however well each compresses', async () => {
    const numbers = Array.from({ length: 12 }, (_, k) => k);
    const { result } = await callTool(client, 'sdreforge_batch_preview', { job_id: jobId, images: numbers });
    const shown = await pictures(result);
    expect(shown).toHaveLength(12);
    expect(new Set(shown.map((p) => `${p.meta.width}x${p.meta.height}`)).size).toBe(1);
    const total = shown.reduce((sum, p) => sum + p.base64, 0);
    expect(total).toBeLessThanOrEqual((PREVIEW_BUDGET_BYTES * 4) / 3 + 12 * 4);
  });

  it('names the images a job does not have, and the job of another caller is unknown', async () => {
    const { result } = await callTool(client, 'sdreforge_batch_preview', { job_id: jobId, images: [3, 12] });
    expect(result.isError).toBe(true);
    expect(JSON.stringify(result.content)).toMatch(/images: 12 not made \(yet\).*images 0-11/);
    const other = await callTool(client, 'sdreforge_batch_preview', { job_id: 'job_20261124_aaaaaaaaaa' });
    expect(JSON.stringify(other.result.content)).toMatch(/does not exist/);
  });
});
