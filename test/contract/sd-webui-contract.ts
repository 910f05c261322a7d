import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { EXTENSION_OPTIONS } from '../../local/simulator/catalog.ts';
import { readPng } from '../../local/simulator/png.ts';
import { loadFixture } from './fixtures.ts';
import { type Answer, getProgress, type Progress, pollProgress, send, stripImages } from './sd-webui-http.ts';
import { shapeDiff } from './shape.ts';

/**
 * What sdbatch relies on in an SD WebUI, as one suite that runs against the simulator (npm test)
 * and against a real AUTOMATIC1111 (npm run test:sd-webui with SD_WEBUI_URL). Facts and shapes come
 * from A1111 v1.8.0 (test/fixtures/sd-webui-1.8); where newer hosts differ (schedulers, 1.9+), a test
 * asks the host which it is and checks the matching behaviour. Calls are 64x64 with 1 to 8 steps.
 */

export interface ContractTarget {
  url: string;
  /** About how long one 64x64 sampling step takes there: sets polling and bounds. */
  stepSeconds: number;
}

interface Info {
  prompt: string;
  seed: number;
  all_seeds: number[];
  steps: number;
  width: number;
  height: number;
  sampler_name: string;
  sd_model_name: string;
  sd_model_hash: string;
  infotexts: string[];
  job_timestamp: string;
  version: string;
  extra_generation_params: Record<string, unknown>;
}

interface Generated {
  answer: Answer;
  images: Buffer[];
  parameters: Record<string, unknown>;
  info: Info;
}

interface Model {
  title: string;
  model_name: string;
  hash: string;
  sha256: string;
}

/** Request fields and extra parameters only hosts with schedulers (1.9+, reForge) have. */
const NEWER_PARAMETERS = ['scheduler', 'hr_scheduler', 'hr_cfg'];
const NEWER_EXTRA = ['Hires CFG Scale', 'Hires schedule type'];

const small = { prompt: 'x', width: 64, height: 64 };

export function describeSdWebUiContract(label: string, target: () => ContractTarget): void {
  const url = () => target().url;
  /** Poll a few times per step, bound waits to a generous multiple of the expected time. */
  const timing = (steps: number) => {
    const stepMs = target().stepSeconds * 1000;
    return { everyMs: Math.min(100, Math.max(2, stepMs / 8)), withinMs: 10_000 + 6 * steps * stepMs };
  };
  const get = (path: string) => send(url(), { method: 'GET', path: `/sdapi/v1/${path}` });
  const post = (path: string, body?: unknown, contentType?: string) =>
    send(url(), { method: 'POST', path: `/sdapi/v1/${path}`, body, contentType });

  async function txt2img(body: Record<string, unknown>): Promise<Generated> {
    const answer = await post('txt2img', { ...small, ...body });
    if (answer.status !== 200)
      throw new Error(`txt2img answered ${answer.status}: ${JSON.stringify(answer.body)}`);
    const raw = answer.body as { images: string[]; parameters: Record<string, unknown>; info: string };
    return {
      answer,
      images: raw.images.map((i) => Buffer.from(i, 'base64')),
      parameters: raw.parameters,
      info: JSON.parse(raw.info) as Info,
    };
  }

  /** Polls /progress until `done` settles, keeping every state seen. */
  async function watch<T>(done: Promise<T>, steps: number): Promise<{ result: T; seen: Progress[] }> {
    let settled = false;
    const result = done.finally(() => {
      settled = true;
    });
    const seen = await pollProgress(url(), () => settled, timing(steps));
    return { result: await result, seen };
  }

  const samples = (steps: number) => (p: Progress) =>
    p.state.job_count > 0 && p.state.sampling_step >= 1 && p.state.sampling_steps === steps;
  const hasSchedulers = async () => (await get('schedulers')).status === 200;
  /** An answer without what only newer hosts add, for comparing with the 1.8 fixtures. */
  function as18(body: unknown): unknown {
    const b = stripImages(body) as { parameters?: Record<string, unknown>; info?: string };
    if (!b.parameters || typeof b.info !== 'string') return b;
    const info = JSON.parse(b.info) as Info;
    const extra = Object.fromEntries(
      Object.entries(info.extra_generation_params).filter(([k]) => !NEWER_EXTRA.includes(k)),
    );
    return {
      ...b,
      parameters: Object.fromEntries(
        Object.entries(b.parameters).filter(([k]) => !NEWER_PARAMETERS.includes(k)),
      ),
      info: JSON.stringify({ ...info, extra_generation_params: extra }),
    };
  }
  const sameShapeAs = (fixture: string, body: unknown, rules = {}) =>
    expect(shapeDiff(loadFixture(fixture).body, body, rules)).toEqual([]);

  describe(`SD WebUI contract: ${label}`, { timeout: 180_000 }, () => {
    describe('catalog', () => {
      it('lists checkpoints titled "<file> [<shorthash>]", and /options names one of them', async () => {
        const models = await get('sd-models');
        expect(models.status).toBe(200);
        sameShapeAs('get-sd-models', models.body);
        const list = models.body as Model[];
        expect(list.length).toBeGreaterThan(0);
        for (const m of list) {
          expect(m.hash).toMatch(/^[0-9a-f]{10}$/);
          expect(m.sha256.startsWith(m.hash)).toBe(true);
          expect(m.title.endsWith(` [${m.hash}]`)).toBe(true);
        }
        const options = await get('options');
        expect(options.status).toBe(200);
        const withoutExtensions = Object.fromEntries(
          Object.entries(options.body as object).filter(([k]) => !EXTENSION_OPTIONS.includes(k)),
        );
        sameShapeAs('get-options', withoutExtensions, { open: [''] });
        const { sd_model_checkpoint: current, sd_checkpoint_hash: hash } = options.body as {
          sd_model_checkpoint: string;
          sd_checkpoint_hash: string;
        };
        const selected = list.find((m) => [m.title, m.model_name, m.hash].includes(current));
        expect(selected, `sd_model_checkpoint ${current} names no listed checkpoint`).toBeDefined();
        expect(hash).toBe(selected?.sha256);
      });

      it('lists samplers, upscalers, latent upscale modes and scripts in the recorded shapes', async () => {
        const samplers = (await get('samplers')).body;
        sameShapeAs('get-samplers', samplers, { maps: ['[*].options'] });
        expect((samplers as Array<{ name: string }>).map((s) => s.name)).toEqual(
          expect.arrayContaining(['Euler', 'Euler a', 'DPM++ 2M']),
        );
        const upscalers = (await get('upscalers')).body;
        sameShapeAs('get-upscalers', upscalers);
        expect((upscalers as Array<{ name: string }>)[0]?.name).toBe('None');
        const latent = (await get('latent-upscale-modes')).body;
        sameShapeAs('get-latent-upscale-modes', latent);
        expect(latent).toEqual(expect.arrayContaining([{ name: 'Latent' }]));
        const scripts = (await get('scripts')).body;
        sameShapeAs('get-scripts', scripts);
        expect((scripts as { txt2img: string[] }).txt2img).toEqual(
          expect.arrayContaining(['prompt matrix', 'x/y/z plot']),
        );
      });

      it('answers /schedulers 404 "Not Found" on 1.8, a list on hosts with schedulers', async () => {
        const answer = await get('schedulers');
        if (answer.status === 404) {
          expect(answer.body).toEqual(loadFixture('get-schedulers-404').body);
        } else {
          expect(answer.status).toBe(200);
          const labels = (answer.body as Array<{ label: string }>).map((s) => s.label);
          expect(labels).toEqual(expect.arrayContaining(['Automatic', 'Karras']));
        }
      });

      it("answers ADetailer's and ControlNet's model lists in their documented shapes, or 404 without the extension", async () => {
        for (const [path, fixture, key] of [
          ['/adetailer/v1/ad_model', 'get-adetailer-models-404', 'ad_model'],
          ['/controlnet/model_list', 'get-controlnet-models-404', 'model_list'],
        ] as const) {
          const answer = await send(url(), { method: 'GET', path });
          if (answer.status === 404) {
            expect(answer.body, path).toEqual(loadFixture(fixture).body);
          } else {
            expect(answer.status, path).toBe(200);
            const list = (answer.body as Record<string, unknown>)[key];
            expect(Array.isArray(list) && list.every((n) => typeof n === 'string'), path).toBe(true);
          }
        }
      });
    });

    describe('txt2img', () => {
      it('makes each image of a batch-2 call as the single call with its seed does, to within 1 level in a few pixels', async () => {
        // What a split batch relies on (core/request-limit.ts): the same seeds give the same
        // images, up to float summation order in the batched tensors.
        const seed = 1_000_031;
        const body = { steps: 2, sampler_name: 'Euler a' };
        const pair = await txt2img({ ...body, seed, batch_size: 2 });
        for (const i of [0, 1]) {
          const single = await txt2img({ ...body, seed: seed + i, batch_size: 1 });
          const a = await sharp(pair.images[i] as Buffer)
            .raw()
            .toBuffer();
          const b = await sharp(single.images[0] as Buffer)
            .raw()
            .toBuffer();
          expect(a.length).toBe(b.length);
          const channels = a.length / (64 * 64);
          let maxLevels = 0;
          let pixels = 0;
          for (let p = 0; p < a.length; p += channels) {
            let differs = false;
            for (let c = 0; c < channels; c++) {
              const d = Math.abs((a[p + c] as number) - (b[p + c] as number));
              maxLevels = Math.max(maxLevels, d);
              differs ||= d > 0;
            }
            if (differs) pixels++;
          }
          expect(maxLevels, `image ${i}: largest difference in levels`).toBeLessThanOrEqual(1);
          expect(pixels, `image ${i}: pixels that differ, of 4096`).toBeLessThanOrEqual(41);
        }
      });

      it('answers the images, parameters and info of the recording, seeds seed..seed+b-1, one infotext per image', async () => {
        const seed = 1_000_005;
        const r = await txt2img({ steps: 1, seed, batch_size: 2 });
        sameShapeAs('txt2img', as18(r.answer.body), { jsonStrings: ['info'] });
        expect(r.parameters).toMatchObject({ seed, batch_size: 2, steps: 1 });
        expect(r.info).toMatchObject({ seed, all_seeds: [seed, seed + 1], steps: 1, width: 64, height: 64 });
        expect(r.info.job_timestamp).toMatch(/^\d{14}$/);
        expect(r.images).toHaveLength(2);
        r.images.forEach((png, i) => {
          const read = readPng(png);
          expect(read).toMatchObject({ width: 64, height: 64 });
          expect(read.text.parameters).toBe(r.info.infotexts[i]);
          const [prompt, params] = (r.info.infotexts[i] ?? '').split('\n');
          expect(prompt).toBe('x');
          expect(params).toMatch(/^Steps: 1, Sampler: \w/);
          for (const part of [
            `Seed: ${seed + i}`,
            'Size: 64x64',
            'CFG scale: 7.0',
            `Model hash: ${r.info.sd_model_hash}`,
            `Model: ${r.info.sd_model_name}`,
          ]) {
            expect(params).toContain(part);
          }
          expect(params?.endsWith(`Version: ${r.info.version}`)).toBe(true);
        });
      });

      it('answers the same request with the same PNG bytes, also after an interrupt sent while idle', async () => {
        const request = { steps: 2, seed: 1_000_021 };
        const first = await txt2img(request);
        const interrupt = await post('interrupt');
        expect(interrupt.status).toBe(200);
        expect(interrupt.body).toEqual(loadFixture('post-interrupt-idle').body);
        expect((await getProgress(url())).state).toMatchObject({ job_count: 0, interrupted: true });
        // The flag is cleared when the next call begins: that call runs all its steps.
        const second = await txt2img(request);
        expect(second.images).toEqual(first.images);
        expect((await getProgress(url())).state).toMatchObject({
          job_count: 0,
          interrupted: false,
          sampling_steps: 2,
        });
      });

      it('takes the hires fix: Latent x1.5 turns 64x64 into 96x96, and /progress counts two jobs', async () => {
        const { result, seen } = await watch(
          txt2img({
            steps: 2,
            seed: 1_000_007,
            enable_hr: true,
            hr_upscaler: 'Latent',
            hr_scale: 1.5,
            hr_second_pass_steps: 1,
            denoising_strength: 0.5,
          }),
          3,
        );
        expect(readPng(result.images[0] ?? Buffer.alloc(0))).toMatchObject({ width: 96, height: 96 });
        expect(result.info).toMatchObject({ width: 64, height: 64, steps: 2 });
        expect(result.info.extra_generation_params).toMatchObject({
          'Denoising strength': 0.5,
          'Hires upscale': 1.5,
          'Hires steps': 1,
          'Hires upscaler': 'Latent',
        });
        const busy = seen.filter((p) => p.state.job_count !== 0);
        expect(busy.some((p) => p.state.job_count === 2)).toBe(true);
        expect(busy.every((p) => [-1, 2].includes(p.state.job_count))).toBe(true);
        expect(seen.at(-1)?.state).toMatchObject({ job_count: 0, job_no: 2 });
      });

      it('ignores a scheduler field on 1.8, takes it on hosts with schedulers', async () => {
        const r = await txt2img({ steps: 1, seed: 1_000_006, sampler_name: 'Euler', scheduler: 'Karras' });
        if (await hasSchedulers()) {
          expect(r.parameters.scheduler).toBe('Karras');
          expect(r.info.infotexts[0]).toContain('Schedule type: Karras');
        } else {
          expect(r.parameters).not.toHaveProperty('scheduler');
          expect(r.info.infotexts[0]).not.toContain('Schedule type');
          expect(r.info.sampler_name).toBe('Euler');
        }
      });

      it('answers an unknown sampler 404 on 1.8; hosts with schedulers use their first sampler', async () => {
        if (await hasSchedulers()) {
          const samplers = (await get('samplers')).body as Array<{ name: string }>;
          const r = await txt2img({ steps: 1, sampler_name: 'No Such Sampler' });
          expect(r.info.sampler_name).toBe(samplers[0]?.name);
        } else {
          const answer = await post('txt2img', { ...small, steps: 1, sampler_name: 'No Such Sampler' });
          expect(answer.status).toBe(404);
          expect(answer.body).toEqual(loadFixture('txt2img-404-sampler').body);
        }
      });
    });

    describe('queue, progress, interrupt, skip', () => {
      it('describes the running call in /progress, then the last call while idle', async () => {
        await txt2img({ steps: 1, seed: 1_000_041 });
        const { result, seen } = await watch(txt2img({ steps: 4, seed: 1_000_042 }), 4);
        const busy = seen.filter((p) => p.state.job_count !== 0);
        expect(busy.length).toBeGreaterThan(0);
        for (const p of busy) {
          expect(p.state).toMatchObject({ job: 'scripts_txt2img', job_timestamp: result.info.job_timestamp });
          expect([-1, 1]).toContain(p.state.job_count);
          expect(p.progress).toBeGreaterThanOrEqual(0.01);
          expect(p.progress).toBeLessThanOrEqual(1);
          expect(p.current_image).toBeNull();
          // Until its sampler starts, a call may still show the previous call's steps, at step 0.
          if (p.state.sampling_steps !== 4)
            expect(p.state).toMatchObject({ sampling_steps: 1, sampling_step: 0 });
        }
        const sampling = busy.find(samples(4));
        expect(sampling, 'no /progress state while the call sampled').toBeDefined();
        expect(sampling?.state).toMatchObject({ job_count: 1, job_no: 0 });
        expect(sampling?.progress).toBeGreaterThan(0.01);
        sameShapeAs('progress-running', sampling);
        const idle = await getProgress(url());
        sameShapeAs('progress-idle', idle);
        expect(idle).toEqual({
          progress: 0,
          eta_relative: 0,
          state: {
            skipped: false,
            interrupted: false,
            stopping_generation: false,
            job: '',
            job_count: 0,
            job_timestamp: result.info.job_timestamp,
            job_no: 1,
            sampling_step: 0,
            sampling_steps: 4,
          },
          current_image: null,
          textinfo: null,
        });
      });

      it('keeps interrupted true while idle after an interrupted call, until the next call begins', async () => {
        const running = txt2img({ steps: 6, seed: 1_000_051 });
        await pollProgress(url(), samples(6), timing(6));
        expect((await post('interrupt')).status).toBe(200);
        const r = await running;
        expect(r.images).toHaveLength(1);
        expect(r.info.infotexts[0]).toContain('Steps: 6');
        sameShapeAs('txt2img-interrupted', as18(r.answer.body), { jsonStrings: ['info'] });
        const idle = await getProgress(url());
        sameShapeAs('progress-idle-after-interrupt', idle);
        expect(idle.state).toMatchObject({
          job_count: 0,
          interrupted: true,
          sampling_steps: 6,
          job_timestamp: r.info.job_timestamp,
        });
        await txt2img({ steps: 1, seed: 1_000_052 });
        expect((await getProgress(url())).state).toMatchObject({ interrupted: false, sampling_steps: 1 });
      });

      it('runs queued calls one at a time in order; an interrupt stops only the running one', async () => {
        const a = { steps: 8, seed: 1_000_031 };
        const b = { steps: 3, seed: 1_000_032 };
        const runA = txt2img(a);
        await pollProgress(url(), samples(8), timing(8));
        const order: string[] = [];
        const runB = txt2img(b);
        // B's request went out before this poll; A still runs, so B waits in the queue.
        expect((await getProgress(url())).state).toMatchObject({ job_count: 1, sampling_steps: 8 });
        const interruptedAt = (await getProgress(url())).state.sampling_step;
        expect((await post('interrupt')).status).toBe(200);
        const both = Promise.all([
          runA.then((r) => {
            order.push('A');
            return r;
          }),
          runB.then((r) => {
            order.push('B');
            return r;
          }),
        ]);
        const { result, seen } = await watch(both, 12);
        const [doneA, doneB] = result;
        expect(order).toEqual(['A', 'B']);
        // A answers 200 with its partly sampled image, having run at most a step or two more.
        expect(doneA.images).toHaveLength(1);
        expect(doneA.info.steps).toBe(8);
        const stepsOfA = seen.filter((p) => p.state.sampling_steps === 8 && p.state.job_count > 0);
        const lastOfA = Math.max(interruptedAt, ...stepsOfA.map((p) => p.state.sampling_step));
        expect(lastOfA).toBeLessThanOrEqual(interruptedAt + 2);
        expect(lastOfA).toBeLessThan(7);
        // B starts after A and is not interrupted: it runs all its steps.
        expect(doneB.info.job_timestamp >= doneA.info.job_timestamp).toBe(true);
        for (const p of seen.filter((x) => x.state.job_count > 0 && x.state.sampling_steps === 3)) {
          expect(p.state.interrupted).toBe(false);
        }
        expect(seen.at(-1)?.state).toMatchObject({ job_count: 0, interrupted: false, sampling_steps: 3 });
        const alone = await txt2img(b);
        expect(doneB.images).toEqual(alone.images);
      });

      it('answers /skip with null; a skipped call answers its images and leaves skipped true while idle', async () => {
        const idleSkip = await post('skip');
        expect(idleSkip.status).toBe(200);
        expect(idleSkip.body).toBeNull();
        const running = txt2img({ steps: 6, seed: 1_000_061 });
        await pollProgress(url(), samples(6), timing(6));
        expect((await post('skip')).body).toEqual(loadFixture('post-skip-idle').body);
        const r = await running;
        expect(r.images).toHaveLength(1);
        sameShapeAs('txt2img-skipped', as18(r.answer.body), { jsonStrings: ['info'] });
        const idle = await getProgress(url());
        sameShapeAs('progress-idle-after-skip', idle);
        expect(idle.state).toMatchObject({ job_count: 0, skipped: true, interrupted: false, job_no: 1 });
      });
    });

    describe('errors', () => {
      it.each([
        'txt2img-422-type',
        'txt2img-422-null',
        'txt2img-422-bad-json',
        'txt2img-422-not-json-content-type',
        'txt2img-422-not-a-dict',
        'txt2img-422-unknown-script',
        'get-unknown-route-404',
        'get-txt2img-405',
      ])('answers as recorded: %s', async (name) => {
        const fixture = loadFixture(name);
        const answer = await send(url(), fixture.request);
        expect(answer.status).toBe(fixture.status);
        expect(answer.body).toEqual(fixture.body);
      });

      it('answers 500 with the recorded error body shape for an exception in processing', async () => {
        const fixture = loadFixture('txt2img-500-hires-upscaler');
        const answer = await send(url(), fixture.request);
        expect(answer.status).toBe(500);
        sameShapeAs(fixture.name, answer.body);
        expect(answer.body).toMatchObject({ detail: '', body: '' });
      });
    });

    describe('options and checkpoints', () => {
      it('answers an unknown checkpoint or setting 500 and keeps the current checkpoint', async () => {
        const before = ((await get('options')).body as Record<string, unknown>).sd_model_checkpoint;
        for (const name of ['post-options-unknown-checkpoint-500', 'post-options-unknown-key-500']) {
          const fixture = loadFixture(name);
          const answer = await send(url(), fixture.request);
          expect(answer.status).toBe(500);
          sameShapeAs(name, answer.body);
        }
        expect(((await get('options')).body as Record<string, unknown>).sd_model_checkpoint).toBe(before);
      });

      it('switches the checkpoint through POST /options: kept as sent, used by the next call', async () => {
        const original = ((await get('options')).body as Record<string, string>).sd_model_checkpoint;
        const target = ((await get('sd-models')).body as Model[]).at(-1) as Model;
        const set = await post('options', { sd_model_checkpoint: target.model_name });
        expect(set.status).toBe(200);
        expect(set.body).toEqual(loadFixture('post-options-checkpoint').body);
        try {
          const options = (await get('options')).body as Record<string, string>;
          expect(options.sd_model_checkpoint).toBe(target.model_name);
          expect(options.sd_checkpoint_hash).toBe(target.sha256);
          const r = await txt2img({ steps: 1, seed: 1_000_071 });
          expect(r.info.sd_model_hash).toBe(target.hash);
          expect(r.info.infotexts[0]).toContain(`Model hash: ${target.hash}`);
        } finally {
          expect((await post('options', { sd_model_checkpoint: original })).status).toBe(200);
        }
        expect(((await get('options')).body as Record<string, string>).sd_model_checkpoint).toBe(original);
      });
    });
  });
}
