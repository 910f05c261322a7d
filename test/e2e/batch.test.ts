import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPng } from '../../local/simulator/png.ts';
import type { EmbeddedStack } from '../../local/stack.ts';
import { callTool, jobItemCount, openTestStack, waitForTerminal } from '../support/embedded.ts';

interface Status {
  status: string;
  completed_images: number;
  total_images: number;
  progress: string;
  elapsed_time: string;
}
interface Result {
  status: string;
  files: Array<{ url: string; seed: number; iteration: number; index: number }>;
  expires_at: string;
}

let stack: EmbeddedStack;
let client: Client;
let close: () => Promise<void>;

beforeAll(async () => {
  ({ stack, client, close } = await openTestStack());
});
afterAll(() => close?.());

const waitForEnd = (jobId: string, onStatus?: (s: Status) => void) =>
  waitForTerminal<Status>(client, jobId, { onStatus });

async function downloadAndCheck(files: Result['files'], width: number, height: number): Promise<number[]> {
  return Promise.all(
    files.map(async (file) => {
      const response = await fetch(file.url);
      expect(response.status).toBe(200);
      const png = readPng(Buffer.from(await response.arrayBuffer()));
      expect([png.width, png.height]).toEqual([width, height]);
      const seed = Number(/Seed: (\d+)/.exec(png.text.parameters ?? '')?.[1]);
      expect(seed).toBe(file.seed);
      return seed;
    }),
  );
}

describe('a batch job on the embedded stack', () => {
  it('runs 4 x 3 images asynchronously and returns 12 downloadable PNGs with their seeds', async () => {
    const started = Date.now();
    const { data: start } = await callTool<{
      job_id: string;
      total_images: number;
      seed: number;
      status: string;
    }>(client, 'sdreforge_batch_start', {
      prompt: 'a lighthouse at dusk',
      batch_size: 4,
      n_iter: 3,
      width: 96,
      height: 64,
      steps: 4,
      seed: 5000,
    });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(start).toMatchObject({ total_images: 12, seed: 5000, status: 'pending' });
    expect(start.job_id).toMatch(/^job_\d{8}_[a-z2-7]{10}$/);

    let last = -1;
    const end = await waitForEnd(start.job_id, (s) => {
      expect(s.completed_images).toBeGreaterThanOrEqual(last);
      last = s.completed_images;
    });
    expect(end).toMatchObject({
      status: 'completed',
      completed_images: 12,
      progress: '12/12 images completed',
    });

    const { data: result } = await callTool<Result>(client, 'sdreforge_batch_result', {
      job_id: start.job_id,
    });
    expect(result.files).toHaveLength(12);
    expect(Date.parse(result.expires_at)).toBeGreaterThan(Date.now());
    const seeds = await downloadAndCheck(result.files, 96, 64);
    expect(seeds).toEqual(Array.from({ length: 12 }, (_, k) => 5000 + k));
  });

  it('runs two jobs at once, each to its own 12 and 6 images', async () => {
    const [a, b] = await Promise.all([
      callTool<{ job_id: string }>(client, 'sdreforge_batch_start', {
        prompt: 'a',
        batch_size: 4,
        n_iter: 3,
        steps: 3,
        width: 64,
        height: 64,
      }),
      callTool<{ job_id: string }>(client, 'sdreforge_batch_start', {
        prompt: 'b',
        batch_size: 2,
        n_iter: 3,
        steps: 3,
        width: 64,
        height: 64,
      }),
    ]);
    const [endA, endB] = await Promise.all([waitForEnd(a.data.job_id), waitForEnd(b.data.job_id)]);
    expect(endA).toMatchObject({ status: 'completed', completed_images: 12, total_images: 12 });
    expect(endB).toMatchObject({ status: 'completed', completed_images: 6, total_images: 6 });
    const resultA = await callTool<Result>(client, 'sdreforge_batch_result', { job_id: a.data.job_id });
    const resultB = await callTool<Result>(client, 'sdreforge_batch_result', { job_id: b.data.job_id });
    expect(resultA.data.files).toHaveLength(12);
    expect(resultB.data.files).toHaveLength(6);
    expect(new Set(resultA.data.files.map((f) => f.url.split('?')[0])).size).toBe(12);
    await downloadAndCheck(resultB.data.files, 64, 64);
  });

  it('rejects bad arguments with the field and its limit, and creates nothing', async () => {
    const before = await jobItemCount(stack);
    for (const [field, args, limit] of [
      ['batch_size', { prompt: 'x', batch_size: 9 }, '8'],
      ['n_iter', { prompt: 'x', n_iter: 101 }, '100'],
      ['width', { prompt: 'x', width: 100 }, '8'],
      ['prompt', { batch_size: 2 }, ''],
    ] as const) {
      const { result } = await callTool(client, 'sdreforge_batch_start', args);
      expect(result.isError, field).toBe(true);
      const text = JSON.stringify(result.content);
      expect(text).toContain(field);
      expect(text).toContain(limit);
    }
    expect(await jobItemCount(stack)).toBe(before);
  });

  it('answers an unknown job with a clear tool error', async () => {
    const { result } = await callTool(client, 'sdreforge_batch_status', {
      job_id: 'job_20261124_aaaaaaaaaa',
    });
    expect(result.isError).toBe(true);
    expect(JSON.stringify(result.content)).toContain('job_20261124_aaaaaaaaaa');
  });
});
