import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { documentClient } from '../../adapters/aws-clients.ts';
import { HOST_NAMES_PK } from '../../adapters/jobs-table.ts';
import { encodePng, readPng } from '../../local/simulator/png.ts';
import type { EmbeddedStack } from '../../local/stack.ts';
import {
  callTool,
  connectClient,
  jobItemCount,
  startTestStack,
  waitForTerminal,
} from '../support/embedded.ts';
import { tempDir } from '../support/temp-dir.ts';

const controlPng = encodePng({ width: 8, height: 8, rgb: new Uint8Array(8 * 8 * 3).fill(200), text: {} });

let dir: Awaited<ReturnType<typeof tempDir>>;
let stack: EmbeddedStack;
let client: Client;
let imageServer: Server;
let imageOrigin: string;

/** Requests the image server answered, by path; /flaky fails its first request with a 503. */
const served = new Map<string, number>();

beforeAll(async () => {
  imageServer = createServer((req, res) => {
    const path = req.url ?? '';
    served.set(path, (served.get(path) ?? 0) + 1);
    if (path === '/missing.png') return res.writeHead(404).end();
    if (path === '/flaky.png' && served.get(path) === 1) return res.writeHead(503).end();
    res.writeHead(200, { 'content-type': 'image/png' }).end(controlPng);
  });
  await new Promise<void>((r) => imageServer.listen(0, '127.0.0.1', r));
  imageOrigin = `http://127.0.0.1:${(imageServer.address() as AddressInfo).port}`;
  dir = await tempDir();
  stack = await startTestStack(dir.path, { SDBATCH_FETCH_ALLOW_HOSTS: new URL(imageOrigin).host });
  client = await connectClient(stack);
});
afterAll(async () => {
  await client?.close();
  await stack?.stop();
  await dir.remove();
  await new Promise((r) => imageServer.close(r));
});

const waitForEnd = (jobId: string) => waitForTerminal<{ status: string }>(client, jobId);

type Payload = Record<string, unknown> & { alwayson_scripts?: Record<string, { args: unknown[] }> };

describe('every sdreforge parameter reaches SD WebUI', () => {
  it('sends the merged preset + caller payload, split per iteration, and records seeds and infotexts', async () => {
    stack.simulator?.resetStats();
    const { data, result } = await callTool<{ job_id: string; preset: string; seed: number }>(
      client,
      'sdreforge_batch_start',
      {
        preset: 'txt2img_portrait_xl',
        prompt: 'a knight {red|blue} cape',
        negative_prompt: 'extra fingers',
        width: 64,
        height: 96,
        steps: 3,
        hr_scale: 2,
        hr_upscaler: 'Latent',
        hr_second_pass_steps: 2,
        checkpoint: 'v1-5-pruned-emaonly',
        seed: 777,
        subseed: 40,
        batch_size: 2,
        n_iter: 2,
        adetailer: [{ model: 'face_yolov8n.pt', confidence: 0.5 }, { model: 'hand_yolov8n.pt' }],
        controlnet: [
          {
            image_url: `${imageOrigin}/pose.png`,
            model: 'control_v11p_sd15_openpose',
            module: 'openpose',
            weight: 0.7,
          },
          {
            image: `data:image/png;base64,${controlPng.toString('base64')}`,
            model: 'control_v11p_sd15_canny',
          },
        ],
        rp_active: true,
        rp_mode: 'Matrix',
        rp_divide_ratio: '1,1',
        use_fixed_seed: false,
      },
    );
    expect(result.isError, JSON.stringify(result.content)).toBeFalsy();
    expect(data.preset).toBe('txt2img_portrait_xl');
    expect(await waitForEnd(data.job_id)).toMatchObject({ status: 'completed' });

    const received = (stack.simulator?.stats().received ?? []) as Payload[];
    expect(received).toHaveLength(2);
    const sorted = [...received].sort((a, b) => Number(a.seed) - Number(b.seed));
    const [first, second] = sorted as [Payload, Payload];
    expect(first).toMatchObject({
      prompt: 'masterpiece, best quality, a knight {red|blue} cape, detailed face, soft light',
      negative_prompt: 'lowres, bad anatomy, bad hands, watermark, extra fingers',
      width: 64,
      height: 96,
      steps: 3,
      cfg_scale: 6,
      sampler_name: 'DPM++ 2M',
      scheduler: 'Karras',
      seed: 777,
      subseed: 40,
      batch_size: 2,
      n_iter: 1,
      enable_hr: true,
      hr_scale: 2,
      hr_upscaler: 'Latent',
      hr_second_pass_steps: 2,
      hr_cfg: 6,
      denoising_strength: 0.4,
      override_settings: {
        sd_model_checkpoint: expect.stringMatching(/^v1-5-pruned-emaonly\.safetensors \[/),
        CLIP_stop_at_last_layers: 2,
      },
      send_images: true,
      save_images: false,
    });
    expect(second).toMatchObject({ seed: 779, subseed: 42 });
    expect(JSON.stringify(received)).not.toContain('null');

    const scripts = first.alwayson_scripts ?? {};
    expect(scripts.ADetailer?.args).toEqual([
      true,
      false,
      { ad_model: 'face_yolov8n.pt', ad_confidence: 0.5, ad_denoising_strength: 0.35 },
      { ad_model: 'hand_yolov8n.pt' },
    ]);
    const units = scripts.ControlNet?.args as Array<Record<string, unknown>>;
    expect(units.map((u) => [u.enabled, u.model, u.image])).toEqual([
      [true, 'control_v11p_sd15_openpose', controlPng.toString('base64')],
      [true, 'control_v11p_sd15_canny', controlPng.toString('base64')],
    ]);
    expect(scripts['Regional Prompter']?.args.slice(0, 3)).toEqual([true, false, 'Matrix']);
    const dpKey = Object.keys(scripts).find((k) => k.toLowerCase().startsWith('dynamic prompts'));
    // The host's own title (/sdapi/v1/scripts lists it lowercased, version included).
    expect(dpKey).toBe('dynamic prompts v2.17.1');

    const { data: res } = await callTool<{
      files: Array<{
        url: string;
        seed: number;
        subseed: number;
        infotext: string;
        width: number;
        height: number;
      }>;
    }>(client, 'sdreforge_batch_result', { job_id: data.job_id });
    expect(res.files.map((f) => f.seed)).toEqual([777, 778, 779, 780]);
    expect(res.files.map((f) => f.subseed)).toEqual([40, 41, 42, 43]);
    for (const file of res.files) {
      expect(file.infotext).toContain(`Seed: ${file.seed}`);
      const png = readPng(Buffer.from(await (await fetch(file.url)).arrayBuffer()));
      // Hires fix doubled the size: the result reports what SD WebUI made.
      expect([png.width, png.height, file.width, file.height]).toEqual([128, 192, 128, 192]);
    }
  });

  it('refuses an unknown preset and creates nothing', async () => {
    const before = await jobItemCount(stack);
    const { result } = await callTool(client, 'sdreforge_batch_start', { prompt: 'x', preset: 'nope' });
    expect(result.isError).toBe(true);
    const merged = await callTool(client, 'sdreforge_batch_start', {
      prompt: 'x',
      controlnet: [{ image_url: 'https://example.com/a.png' }],
    });
    expect((merged.result.content as Array<{ text: string }>)[0]?.text).toMatch(/controlnet\.0/);
    expect(await jobItemCount(stack)).toBe(before);
    expect((result.content as Array<{ text: string }>)[0]?.text).toMatch(
      /unknown preset "nope".*txt2img_default/,
    );
  });

  it('refuses an unknown argument, naming the one it was probably meant to be, and creates nothing', async () => {
    const before = await jobItemCount(stack);
    const answer = async (args: Record<string, unknown>) => {
      const { result } = await callTool(client, 'sdreforge_batch_start', { prompt: 'x', ...args });
      expect(result.isError).toBe(true);
      return (result.content as Array<{ text: string }>)[0]?.text;
    };
    expect(await answer({ batch_sise: 4 })).toMatch(/unknown argument batch_sise; did you mean batch_size\?/);
    expect(await answer({ negativ_prompt: 'blur' })).toMatch(/did you mean negative_prompt\?/);
    // Nothing near it: no guess.
    expect(await answer({ colour_scheme: 'teal' })).toMatch(/unknown argument colour_scheme(?!;)/);
    expect(await jobItemCount(stack)).toBe(before);
  });

  it('refuses a control image that could never be used, naming the unit and the field, and creates nothing', async () => {
    const before = await jobItemCount(stack);
    const refusal = async (source: Record<string, string>) => {
      const { result } = await callTool(client, 'sdreforge_batch_start', {
        prompt: 'x',
        controlnet: [{ model: 'control_v11p_sd15_canny', ...source }],
      });
      expect(result.isError).toBe(true);
      return (result.content as Array<{ text: string }>)[0]?.text;
    };
    const data = (type: string, bytes: Uint8Array) =>
      `data:image/${type};base64,${Buffer.from(bytes).toString('base64')}`;
    expect(await refusal({ image_url: 'http://example.com/a.png' })).toMatch(
      /controlnet\.0\.image_url: only https URLs are fetched/,
    );
    for (const url of [
      'https://127.0.0.1/a.png',
      'https://169.254.169.254/latest/meta-data',
      'https://[::1]/a.png',
    ])
      expect(await refusal({ image_url: url })).toMatch(/controlnet\.0\.image_url: an IP address/);
    expect(await refusal({ image_url: 'https://localhost/a.png' })).toMatch(
      /controlnet\.0\.image_url: localhost resolves to a non-public address/,
    );
    expect(await refusal({ image_url: 'https://no-such-host.invalid/a.png' })).toMatch(/does not resolve/);
    for (const key of [
      'inputs/job_20261124_aaaaaaaaaa/../../jobs/job_20261124_bbbbbbbbbb/000-0.png',
      'inputs/job_20261124_aaaaaaaaaa/controlnet-0.png',
      'sheets/job_20261124_aaaaaaaaaa.png',
    ])
      expect(await refusal({ image_key: key })).toMatch(
        /controlnet\.0\.image_key: not an image or input of one of your jobs/,
      );
    expect(await refusal({ image: data('png', Buffer.from('not an image at all')) })).toMatch(
      /controlnet\.0\.image: the bytes are not a png image/,
    );
    const wide = encodePng({ width: 9000, height: 1, rgb: new Uint8Array(9000 * 3), text: {} });
    expect(await refusal({ image: data('png', wide) })).toMatch(
      /9000x1; a control image may be at most 8192x8192/,
    );
    expect(await refusal({ image: data('jpeg', controlPng) })).toMatch(/the bytes are not a jpeg image/);
    expect(await jobItemCount(stack)).toBe(before);
  });

  it("takes an earlier job's stored input by key, the gateway and the generate task each under their own role", async () => {
    const start = (unit: Record<string, string>) =>
      callTool<{ job_id: string }>(client, 'sdreforge_batch_start', {
        prompt: 'x',
        steps: 1,
        width: 64,
        height: 64,
        controlnet: [{ model: 'control_v11p_sd15_canny', ...unit }],
      });
    const { data: first } = await start({ image: `data:image/png;base64,${controlPng.toString('base64')}` });
    expect(await waitForEnd(first.job_id)).toMatchObject({ status: 'completed' });
    stack.simulator?.resetStats();
    // The gateway checks the key exists (it may read inputs/ and list the bucket); the worker reads it.
    const { data: second, result } = await start({ image_key: `inputs/${first.job_id}/controlnet-0.png` });
    expect(result.isError, JSON.stringify(result.content)).toBeFalsy();
    expect(await waitForEnd(second.job_id)).toMatchObject({ status: 'completed' });
    const [sent] = (stack.simulator?.stats().received ?? []) as Payload[];
    const unit = sent?.alwayson_scripts?.ControlNet?.args[0] as { image?: string } | undefined;
    expect(unit?.image).toBe(controlPng.toString('base64'));
  });

  it('fetches a control image URL once per job, retries a failure that may pass, and fails the iterations with the reason of one that cannot', async () => {
    const job = async (path: string) => {
      const { data } = await callTool<{ job_id: string }>(client, 'sdreforge_batch_start', {
        prompt: 'x',
        steps: 1,
        width: 64,
        height: 64,
        n_iter: 4,
        controlnet: [{ model: 'control_v11p_sd15_canny', image_url: `${imageOrigin}${path}` }],
      });
      const { status } = await waitForEnd(data.job_id);
      const { data: result } = await callTool<{ failures: Array<{ error: string }> }>(
        client,
        'sdreforge_batch_result',
        { job_id: data.job_id },
      );
      return { status, failures: result.failures, fetched: served.get(path) };
    };
    // Runners start together and may each miss the copy once; never once per iteration.
    const steady = await job('/steady.png');
    expect(steady).toMatchObject({ status: 'completed', failures: [] });
    expect(steady.fetched).toBeLessThanOrEqual(stack.deps.settings.concurrency);
    const flaky = await job('/flaky.png');
    expect(flaky.status).toBe('completed');
    const missing = await job('/missing.png');
    expect(missing.status).toBe('failed');
    expect(missing.failures).toHaveLength(4);
    for (const f of missing.failures) expect(f.error).toMatch(/HTTP 404/);
    expect(missing.fetched).toBeLessThanOrEqual(stack.deps.settings.concurrency);
  });

  it("refuses a checkpoint no host has at start, from the hosts' lists, naming what they have", async () => {
    const before = await jobItemCount(stack);
    const { result } = await callTool(client, 'sdreforge_batch_start', {
      prompt: 'x',
      checkpoint: 'no-such-model',
    });
    expect(result.isError).toBe(true);
    const text = (result.content as Array<{ text: string }>)[0]?.text;
    expect(text).toMatch(/checkpoint: "no-such-model" is not on the GPU hosts/);
    expect(text).toMatch(/they have: .*v1-5-pruned-emaonly\.safetensors \[/);
    expect(await jobItemCount(stack)).toBe(before);
  });

  it("refuses at start a sampler, scheduler, upscaler or extension model no host has, from the hosts' lists", async () => {
    const before = await jobItemCount(stack);
    const refusals = {
      sampler_name: { sampler_name: 'Euler b' },
      scheduler: { scheduler: 'Karas' },
      hr_upscaler: { enable_hr: true, hr_upscaler: 'R-ESRGAN 4x' },
      'adetailer[0].model': { adetailer: [{ model: 'face_yolov8.pt' }] },
      'controlnet[0].model': {
        controlnet: [{ model: 'control_v11p_sd15_scribble', image_url: `${imageOrigin}/c.png` }],
      },
    };
    const closest = {
      sampler_name: 'Euler a, Euler,',
      scheduler: 'karras, Karras,',
      hr_upscaler: 'R-ESRGAN 4x+, ESRGAN_4x,',
      'adetailer[0].model': 'face_yolov8n.pt, face_yolov8s.pt,',
      'controlnet[0].model': 'control_v11p_sd15_canny [d14c016b],',
    };
    for (const [field, args] of Object.entries(refusals)) {
      const { result } = await callTool(client, 'sdreforge_batch_start', { prompt: 'x', ...args });
      expect(result.isError, field).toBe(true);
      const text = (result.content as Array<{ text: string }>)[0]?.text ?? '';
      expect(text, field).toContain(`${field}: "`);
      expect(text, field).toContain('" is not on the GPU hosts (their lists as of ');
      expect(text, field).toContain(`the closest they have: ${closest[field as keyof typeof closest]}`);
    }
    expect(await jobItemCount(stack)).toBe(before);
  });

  it('fails the job with the closest names when no list was known and the host lacks a name', async () => {
    // As on a fresh deployment: no worker has read a host's list yet.
    const db = documentClient(stack.stores.clients);
    await db.send(
      new DeleteCommand({
        TableName: stack.stores.tableName,
        Key: { pk: HOST_NAMES_PK, sk: `HOST#${new URL(stack.sdWebUiUrl).host}` },
      }),
    );
    db.destroy();
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [
        { checkpoint: 'no-such-model' },
        /checkpoint: "no-such-model" is not on the GPU host \S+; the closest it has: /,
      ],
      [
        { sampler_name: 'Euler b' },
        /sampler_name: "Euler b" is not on the GPU host \S+; the closest it has: Euler a, Euler, /,
      ],
      [
        { adetailer: [{ model: 'face_yolov8.pt' }] },
        /adetailer\[0\]\.model: "face_yolov8.pt" .*: face_yolov8n\.pt, /,
      ],
    ];
    for (const [args, reason] of cases) {
      const { data } = await callTool<{ job_id: string }>(client, 'sdreforge_batch_start', {
        prompt: 'x',
        steps: 1,
        width: 64,
        height: 64,
        ...args,
      });
      expect(await waitForEnd(data.job_id)).toMatchObject({ status: 'failed' });
      const { data: res } = await callTool<{ failures: Array<{ error: string }> }>(
        client,
        'sdreforge_batch_result',
        { job_id: data.job_id },
      );
      expect(res.failures[0]?.error).toMatch(reason);
    }
  });
});
