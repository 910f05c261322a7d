import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPng } from '../../local/simulator/png.ts';
import { callTool, connectClient, sleep, startTestStack } from '../support/embedded.ts';
import { tempDir } from '../support/temp-dir.ts';

let dir: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  dir = await tempDir();
});
afterAll(async () => {
  await dir.remove();
});

describe('a restart of the embedded stack', () => {
  it('keeps finished jobs, their images and the token', async () => {
    const first = await startTestStack(dir.path);
    const client = await connectClient(first);
    const { data } = await callTool<{ job_id: string }>(client, 'sdreforge_batch_start', {
      prompt: 'persist me',
      batch_size: 2,
      n_iter: 2,
      steps: 2,
      width: 64,
      height: 64,
    });
    let status = '';
    for (let i = 0; i < 400 && status !== 'completed'; i++) {
      status = (await callTool<{ status: string }>(client, 'sdreforge_batch_status', { job_id: data.job_id }))
        .data.status;
      await sleep(25);
    }
    expect(status).toBe('completed');
    await client.close();
    await first.stop();

    const second = await startTestStack(dir.path);
    try {
      expect(second.token).toBe(first.token);
      const again = await connectClient(second);
      const after = await callTool<{ status: string; completed_images: number }>(
        again,
        'sdreforge_batch_status',
        {
          job_id: data.job_id,
        },
      );
      expect(after.data).toMatchObject({ status: 'completed', completed_images: 4 });
      const result = await callTool<{ files: Array<{ url: string; seed: number }> }>(
        again,
        'sdreforge_batch_result',
        {
          job_id: data.job_id,
        },
      );
      expect(result.data.files).toHaveLength(4);
      const png = readPng(Buffer.from(await (await fetch(result.data.files[0]?.url ?? '')).arrayBuffer()));
      expect(png.width).toBe(64);
      await again.close();
    } finally {
      await second.stop();
    }
  });
});
