import { ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { s3Client } from '../../adapters/aws-clients.ts';
import type { EmbeddedStack } from '../../local/stack.ts';
import { callTool, jobItemCount, openTestStack, sleep } from '../support/embedded.ts';

let stack: EmbeddedStack;
let client: Client;
let close: () => Promise<void>;

beforeAll(async () => {
  ({ stack, client, close } = await openTestStack(
    {
      SDBATCH_SIM_STEP_MS: '5',
      SDBATCH_MAX_IMAGES_PER_JOB: '40',
      SDBATCH_MAX_ACTIVE_JOBS: '3',
      SDBATCH_MAX_PROMPT_CHARS: '200',
    },
    { progressPollMs: 10, progressWriteMs: 20 },
  ));
});
afterAll(() => close?.());

interface Status {
  status: string;
  completed_images: number;
  total_images: number;
}
const status = async (jobId: string) =>
  (await callTool<Status>(client, 'sdreforge_batch_status', { job_id: jobId })).data;
const start = async (args: Record<string, unknown>) =>
  callTool<{ job_id: string; status: string }>(client, 'sdreforge_batch_start', {
    width: 64,
    height: 64,
    ...args,
  });
const text = (result: { content: unknown }) => (result.content as Array<{ text: string }>)[0]?.text ?? '';

/** A raw JSON-RPC POST with the stack's token, for what the SDK client does not send. */
const postJson = (body: unknown, headers: Record<string, string> = {}) =>
  fetch(stack.mcpUrl, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${stack.token}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...headers,
    },
    body: JSON.stringify(body),
  });

async function waitFor(jobId: string, done: (s: Status) => boolean): Promise<Status> {
  for (let i = 0; i < 1000; i++) {
    const s = await status(jobId);
    if (done(s)) return s;
    await sleep(10);
  }
  throw new Error(`${jobId} never reached the expected state`);
}
const ended = (s: Status) => ['completed', 'partial', 'failed', 'cancelled'].includes(s.status);

describe('cancel', () => {
  it('stops a running job, skips what has not started, interrupts the host and keeps the images made', async () => {
    stack.simulator?.resetStats();
    const { data } = await start({ prompt: 'long job', steps: 20, batch_size: 1, n_iter: 30 });
    await waitFor(data.job_id, (s) => s.completed_images >= 2);
    const { data: cancel } = await callTool<{
      cancelled: boolean;
      status: string;
      completed_images: number;
      still_finishing_images?: number;
      message: string;
    }>(client, 'sdreforge_batch_cancel', { job_id: data.job_id });
    expect(cancel).toMatchObject({ cancelled: true, status: 'cancelled' });
    await sleep(600);
    const after = await status(data.job_id);
    expect(after.status).toBe('cancelled');
    const requests = stack.simulator?.stats().requests ?? 0;
    expect(requests).toBeLessThan(30);
    await sleep(300);
    // Nothing new reaches the GPU once the job is cancelled and in-flight calls are settled.
    expect(stack.simulator?.stats().requests).toBe(requests);
    expect((await status(data.job_id)).completed_images).toBe(after.completed_images);
    const { data: result } = await callTool<{ files: unknown[]; status: string }>(
      client,
      'sdreforge_batch_result',
      {
        job_id: data.job_id,
      },
    );
    expect(result.status).toBe('cancelled');
    expect(result.files).toHaveLength(after.completed_images);
    expect(after.completed_images).toBeGreaterThanOrEqual(2);
    // The answer told the truth: what was kept then, and at most the calls then on the GPU more.
    const bound = cancel.completed_images + (cancel.still_finishing_images ?? 0);
    expect(after.completed_images).toBeGreaterThanOrEqual(cancel.completed_images);
    expect(after.completed_images).toBeLessThanOrEqual(bound);
    expect(cancel.message).toContain(`${cancel.completed_images} of 30 images were made and kept`);
  });

  it('says a finished job has already ended and changes nothing', async () => {
    const { data } = await start({ prompt: 'short', steps: 1 });
    await waitFor(data.job_id, ended);
    const { data: cancel } = await callTool<{ cancelled: boolean; status: string; message: string }>(
      client,
      'sdreforge_batch_cancel',
      { job_id: data.job_id },
    );
    expect(cancel).toMatchObject({ cancelled: false, status: 'completed' });
    expect(cancel.message).toMatch(/already ended/);
    expect((await status(data.job_id)).status).toBe('completed');
  });
});

describe('client_token', () => {
  it('returns the first job for a repeated start, and refuses the token with other arguments', async () => {
    const before = await jobItemCount(stack);
    const args = { prompt: 'once', steps: 1, client_token: 'retry-me-1' };
    const [a, b] = await Promise.all([start(args), start(args)]);
    const c = await start(args);
    expect(b.data.job_id).toBe(a.data.job_id);
    expect(c.data.job_id).toBe(a.data.job_id);
    expect(await jobItemCount(stack)).toBe(before + 1);
    const other = await start({ ...args, prompt: 'different' });
    expect(other.result.isError).toBe(true);
    expect(text(other.result)).toMatch(/client_token/);
    await waitFor(a.data.job_id, ended);
  });
});

describe('limits', () => {
  it('refuses each limit by name and creates nothing', async () => {
    const before = await jobItemCount(stack);
    const tooMany = await start({ prompt: 'x', batch_size: 8, n_iter: 6 });
    expect(text(tooMany.result)).toMatch(/8 x 6 = 48 images; the limit is 40 images per job/);
    const tooBig = await start({
      prompt: 'x',
      batch_size: 4,
      width: 2048,
      height: 2048,
      enable_hr: true,
      hr_scale: 2,
    });
    expect(text(tooBig.result)).toMatch(
      /batch_size x output size: 4 x 16\.8 MP = 67\.1 MP per SD WebUI call \(hires included\); the limit is 33\.6 MP/,
    );
    const tooLong = await start({ prompt: 'y'.repeat(201) });
    expect(text(tooLong.result)).toMatch(/prompt: 201 characters.*limit is 200/);
    expect(await jobItemCount(stack)).toBe(before);

    const running = await Promise.all([1, 2, 3].map(() => start({ prompt: 'busy', steps: 20, n_iter: 10 })));
    const fourth = await start({ prompt: 'one too many', steps: 1 });
    expect(text(fourth.result)).toMatch(/active jobs: you have 3 jobs pending or running; the limit is 3/);
    expect(await jobItemCount(stack)).toBe(before + 3);
    await Promise.all(
      running.map((r) => callTool(client, 'sdreforge_batch_cancel', { job_id: r.data.job_id })),
    );
  });

  it('holds the active-jobs limit for starts that arrive together, in parallel or in one JSON-RPC batch', async () => {
    const before = await jobItemCount(stack);
    const accepted = (texts: string[]) => texts.filter((t) => !/active jobs: you have/.test(t)).length;
    const parallel = await Promise.all(
      Array.from({ length: 10 }, (_, i) => start({ prompt: `parallel ${i}`, steps: 20, n_iter: 10 })),
    );
    expect(accepted(parallel.map((r) => text(r.result)))).toBe(3);
    expect(await jobItemCount(stack)).toBe(before + 3);
    for (const r of parallel.filter((x) => !x.result.isError)) {
      await callTool(client, 'sdreforge_batch_cancel', { job_id: r.data.job_id });
    }

    const batch = Array.from({ length: 30 }, (_, i) => ({
      jsonrpc: '2.0',
      id: i + 1,
      method: 'tools/call',
      params: {
        name: 'sdreforge_batch_start',
        arguments: { prompt: `batched ${i}`, width: 64, height: 64, steps: 20, n_iter: 10 },
      },
    }));
    // Batches are of the 2025-03-26 protocol, which the gateway still speaks.
    const response = await postJson(batch, { 'mcp-protocol-version': '2025-03-26' });
    expect(response.status).toBe(200);
    const answers = (await response.json()) as Array<{ result: { isError?: boolean; content: unknown } }>;
    expect(answers).toHaveLength(30);
    expect(accepted(answers.map((a) => text(a.result)))).toBe(3);
    expect(await jobItemCount(stack)).toBe(before + 6);
    const listed = await callTool<{ jobs: Array<{ job_id: string; status: string }> }>(
      client,
      'sdreforge_batch_list',
      { status: 'pending', limit: 50 },
    );
    const running = await callTool<{ jobs: Array<{ job_id: string }> }>(client, 'sdreforge_batch_list', {
      status: 'running',
      limit: 50,
    });
    for (const job of [...listed.data.jobs, ...running.data.jobs]) {
      await callTool(client, 'sdreforge_batch_cancel', { job_id: job.job_id });
    }
  });

  it('answers an oversized request body with 413', async () => {
    const response = await postJson({
      jsonrpc: '2.0',
      id: 1,
      method: 'ping',
      params: { pad: 'x'.repeat(9 * 1024 * 1024) },
    });
    expect(response.status).toBe(413);
  });
});

describe('list', () => {
  it('pages the caller’s jobs newest first and filters by status', async () => {
    const { data: all } = await callTool<{
      jobs: Array<{ job_id: string; created_at: string }>;
      next_cursor?: string;
    }>(client, 'sdreforge_batch_list', { limit: 100 });
    expect(all.jobs.length).toBeGreaterThanOrEqual(6);
    const created = all.jobs.map((j) => j.created_at);
    expect([...created].sort().reverse()).toEqual(created);

    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const { data: page } = await callTool<{ jobs: Array<{ job_id: string }>; next_cursor?: string }>(
        client,
        'sdreforge_batch_list',
        { limit: 2, ...(cursor ? { cursor } : {}) },
      );
      expect(page.jobs.length).toBeLessThanOrEqual(2);
      seen.push(...page.jobs.map((j) => j.job_id));
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen).toEqual(all.jobs.map((j) => j.job_id));

    const { data: cancelled } = await callTool<{ jobs: Array<{ status: string }> }>(
      client,
      'sdreforge_batch_list',
      {
        status: 'cancelled',
      },
    );
    expect(cancelled.jobs.length).toBeGreaterThanOrEqual(4);
    expect(new Set(cancelled.jobs.map((j) => j.status))).toEqual(new Set(['cancelled']));

    const bad = await callTool(client, 'sdreforge_batch_list', { cursor: 'not-a-cursor' });
    expect(bad.result.isError).toBe(true);
    expect(text(bad.result)).toMatch(/cursor/);
  });
});

describe('expiry', () => {
  it('never sweeps a job while it runs, however far past its retention; it expires a retention after its end, with all it wrote', async () => {
    const retention = stack.deps.settings.retentionSeconds;
    const { data } = await start({ prompt: 'outlives its retention', steps: 20, n_iter: 6 });
    await waitFor(data.job_id, (s) => s.completed_images >= 1);
    // A sweep ten retentions after the job started, while it runs: its first images included.
    await stack.sweep(Math.floor(Date.now() / 1000) + 10 * retention);
    const done = await waitFor(data.job_id, ended);
    expect(done).toMatchObject({ status: 'completed', completed_images: 6 });
    const job = await stack.deps.jobs.get(data.job_id);
    const endedAt = Math.floor(Date.parse(job?.finished_at ?? '') / 1000);
    expect(job?.expires_at).toBe(endedAt + retention);
    const s3 = s3Client(stack.stores.clients);
    const images = async () =>
      (
        await s3.send(
          new ListObjectsV2Command({ Bucket: stack.stores.bucketName, Prefix: `jobs/${data.job_id}/` }),
        )
      ).KeyCount ?? 0;
    await stack.sweep(endedAt + retention - 1);
    expect(await stack.deps.jobs.listIterations(data.job_id)).toHaveLength(6);
    expect(await images()).toBe(6);
    await stack.sweep(endedAt + retention);
    expect(await stack.deps.jobs.get(data.job_id)).toBeUndefined();
    expect(await stack.deps.jobs.listIterations(data.job_id)).toHaveLength(0);
    expect(await images()).toBe(0);
  });

  it('sweeps images left with no job, once they are an hour old', async () => {
    const s3 = s3Client(stack.stores.clients);
    const key = 'jobs/job_20261124_orphanaaaa/000-0.png';
    await s3.send(new PutObjectCommand({ Bucket: stack.stores.bucketName, Key: key, Body: 'png' }));
    const left = async () =>
      (await s3.send(new ListObjectsV2Command({ Bucket: stack.stores.bucketName, Prefix: key }))).KeyCount;
    await stack.sweep(Math.floor(Date.now() / 1000) + 60);
    expect(await left()).toBe(1);
    await stack.sweep(Math.floor(Date.now() / 1000) + 3700);
    expect(await left()).toBe(0);
  });

  it('answers an expired job as unknown and the sweep deletes its items and images', async () => {
    const retention = stack.deps.settings.retentionSeconds;
    stack.deps.settings.retentionSeconds = 3;
    try {
      const startedAt = Date.now();
      const { data } = await start({ prompt: 'ephemeral', steps: 1, batch_size: 2 });
      expect((await waitFor(data.job_id, ended)).status).toBe('completed');
      await sleep(startedAt + 3100 - Date.now());
      const gone = await callTool(client, 'sdreforge_batch_status', { job_id: data.job_id });
      expect(gone.result.isError).toBe(true);
      expect(text(gone.result)).toMatch(/does not exist, has expired/);
      const swept = await stack.sweep();
      expect(swept.objects).toBeGreaterThanOrEqual(2);
      const s3 = s3Client(stack.stores.clients);
      const left = await s3.send(
        new ListObjectsV2Command({ Bucket: stack.stores.bucketName, Prefix: `jobs/${data.job_id}/` }),
      );
      expect(left.KeyCount ?? 0).toBe(0);
    } finally {
      stack.deps.settings.retentionSeconds = retention;
    }
  });
});
