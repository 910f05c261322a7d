import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPng } from '../../local/simulator/png.ts';
import { callTool, openTestStack, waitForTerminal } from '../support/embedded.ts';
import { directTxt2img, type HostState, hostState, realSdWebUiUrl, watchHost } from './real-host.ts';

// The embedded stack as `npm start` runs it against a real SD WebUI, progress written at most
// every PROGRESS_WRITE_MS as in production: status works the step out from the measured rate.
const url = realSdWebUiUrl();
let client: Awaited<ReturnType<typeof openTestStack>>['client'];
let close: () => Promise<void>;

beforeAll(async () => {
  ({ client, close } = await openTestStack({ SD_WEBUI_URL: url }, { progressPollMs: 250 }));
}, 180_000);
afterAll(() => close?.());

const SMALL = { width: 64, height: 64, sampler_name: 'Euler' };
/** Steps of the live-step job: several seconds of sampling a call on the kit's CPU. */
const LIVE_STEPS = 30;

interface Status {
  status: string;
  completed_images: number;
  current?: { iteration: number; step: number; steps: number } | null;
  notes?: string[];
}
interface ResultFile {
  url: string;
  seed: number;
  width: number;
  height: number;
  infotext?: string;
}

async function runJob(args: Record<string, unknown>, onStatus?: (s: Status) => void) {
  const started = await callTool<{ job_id: string }>(client, 'sdreforge_batch_start', { ...SMALL, ...args });
  expect(started.result.isError, JSON.stringify(started.result.content)).toBeFalsy();
  const ended = await waitForTerminal<Status>(client, started.data.job_id, {
    timeoutMs: 150_000,
    pollMs: 200,
    ...(onStatus ? { onStatus } : {}),
  });
  const { data } = await callTool<{ files: ResultFile[] }>(client, 'sdreforge_batch_result', {
    job_id: started.data.job_id,
    contact_sheet: 'omit',
  });
  return { ended, files: data.files };
}

const download = async (url: string) => Buffer.from(await (await fetch(url)).arrayBuffer());
const pixels = async (png: Buffer) => sharp(png).raw().toBuffer();

describe('jobs against a real SD WebUI', () => {
  it('makes a 2 x 2 job pixel for pixel like one direct call with the same seed, infotext kept', async () => {
    const args = { prompt: 'seeds', seed: 1234, steps: 2, batch_size: 2, n_iter: 2 };
    const { ended, files } = await runJob(args);
    expect(ended.status).toBe('completed');
    const direct = await directTxt2img(url, { ...SMALL, ...args });
    expect(files.map((f) => f.seed)).toEqual(direct.info.all_seeds);
    for (const [i, file] of files.entries()) {
      const png = await download(file.url);
      expect(await pixels(png), `image ${i}`).toEqual(await pixels(direct.images[i] as Buffer));
      // The infotext recorded is the one SD WebUI wrote into the PNG.
      expect(file.infotext).toBe(readPng(png).text.parameters);
      expect(file.infotext).toMatch(new RegExp(`Steps: 2, Sampler: Euler, .*Seed: ${file.seed},`));
    }
  });

  it('shows the step of the call that samples, in order, while the job runs', async () => {
    const seen: Array<{ iteration: number; step: number; steps: number }> = [];
    const { ended } = await runJob({ prompt: 'progress', steps: 6, n_iter: 2 }, (s) => {
      if (s.current) seen.push(s.current);
    });
    expect(ended.status).toBe('completed');
    expect(seen.some((c) => c.step >= 1)).toBe(true);
    // Never the previous request's step count, never the queued call before the sampling one.
    for (const c of seen) expect(c.steps).toBe(6);
    const order = seen.map((c) => c.iteration);
    expect(order).toEqual([...order].sort((a, b) => a - b));
  });

  it('moves the step within a call, within a second of what the host shows, from few writes', async () => {
    const steps = LIVE_STEPS;
    const started = await callTool<{ job_id: string }>(client, 'sdreforge_batch_start', {
      ...SMALL,
      prompt: 'live step',
      steps,
      n_iter: 2,
    });
    // Status, then the host's own /progress at once: the step it shows against the truth.
    const pairs: Array<{ shown: number; iteration: number; host: HostState }> = [];
    for (;;) {
      const { data } = await callTool<Status & { poll_after_seconds: number | null }>(
        client,
        'sdreforge_batch_status',
        { job_id: started.data.job_id },
      );
      if (data.poll_after_seconds === null) break;
      const host = await hostState(url);
      if (data.current && host.jobTimestamp && host.steps === steps) {
        pairs.push({ shown: data.current.step, iteration: data.current.iteration, host });
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const byCall = Map.groupBy(pairs, (p) => p.iteration);
    const moving = [...byCall.values()].filter((call) => new Set(call.map((p) => p.shown)).size >= 3);
    const figures = JSON.stringify(pairs.map((p) => [p.iteration, p.shown, p.host.step]));
    expect(moving.length, figures).toBeGreaterThanOrEqual(1);
    // Each call against the host's rate in it, from its own first and last sightings mid-sampling.
    const mid = pairs.filter((p) => p.host.step > 0 && p.host.step < steps - 1);
    const runs = [...Map.groupBy(mid, (p) => p.host.jobTimestamp).values()];
    expect(runs.length, figures).toBeGreaterThanOrEqual(1);
    for (const run of runs) {
      const first = run[0] as (typeof run)[number];
      const last = run.at(-1) as (typeof run)[number];
      const span = last.host.at - first.host.at;
      const perSecond = span > 0 ? ((last.host.step - first.host.step) * 1000) / span : steps;
      // A second's steps, and one for the moment between the two reads.
      for (const p of run) {
        expect(Math.abs(p.shown - p.host.step), figures).toBeLessThanOrEqual(Math.ceil(perSecond) + 1);
      }
    }
  });

  it('runs hires fix with a latent upscaler at the upscaled size', async () => {
    const { ended, files } = await runJob({
      prompt: 'hires',
      steps: 2,
      enable_hr: true,
      hr_upscaler: 'Latent',
      hr_scale: 1.5,
      hr_second_pass_steps: 1,
      denoising_strength: 0.5,
    });
    expect(ended.status).toBe('completed');
    expect(files[0]).toMatchObject({ width: 96, height: 96 });
    expect(files[0]?.infotext).toMatch(/Hires upscale: 1\.5, Hires steps: 1, Hires upscaler: Latent/);
  });

  it('takes a checkpoint by title, file name and hash, and refuses one the host lacks at start', async () => {
    for (const checkpoint of [
      'random-sd15.safetensors [5dd3a9b884]',
      'random-sd15.safetensors',
      '5dd3a9b884',
    ]) {
      const { ended, files } = await runJob({ prompt: 'model', steps: 1, checkpoint });
      expect(ended.status, checkpoint).toBe('completed');
      expect(files[0]?.infotext).toMatch(/Model hash: 5dd3a9b884, Model: random-sd15/);
    }
    const refused = await callTool(client, 'sdreforge_batch_start', {
      prompt: 'x',
      checkpoint: 'dreamshaper_8',
    });
    expect(refused.result.isError).toBe(true);
    expect((refused.result.content as Array<{ text: string }>)[0]?.text).toMatch(
      /checkpoint: "dreamshaper_8" is not on the GPU hosts .*they have: random-sd15\.safetensors \[5dd3a9b884\]/,
    );
  });

  it('refuses at start a sampler or upscaler the host lacks, with its closest names', async () => {
    const text = async (args: Record<string, unknown>) => {
      const { result } = await callTool(client, 'sdreforge_batch_start', { prompt: 'x', ...args });
      expect(result.isError, JSON.stringify(args)).toBe(true);
      return (result.content as Array<{ text: string }>)[0]?.text;
    };
    expect(await text({ sampler_name: 'Euler b' })).toMatch(
      /sampler_name: "Euler b" is not on the GPU hosts .*; the closest they have: Euler a, Euler, /,
    );
    // 1.8 has no /schedulers: the scheduler is adapted, not refused (see the test below).
    expect(await text({ enable_hr: true, hr_upscaler: 'R-ESRGAN 4x' })).toMatch(
      /hr_upscaler: "R-ESRGAN 4x" is not on the GPU hosts .*; the closest they have: R-ESRGAN 4x\+, ESRGAN_4x, /,
    );
  });

  it('sends a scheduler the way a host without the setting understands it, and says so', async () => {
    const hasSchedulers = (await fetch(`${url}/sdapi/v1/schedulers`)).status === 200;
    const { ended, files } = await runJob({
      prompt: 'scheduler',
      steps: 2,
      sampler_name: 'DPM++ 2M',
      scheduler: 'Karras',
    });
    expect(ended.status).toBe('completed');
    if (hasSchedulers) {
      expect(files[0]?.infotext).toMatch(/Schedule type: Karras/);
    } else {
      expect(files[0]?.infotext).toMatch(/Sampler: DPM\+\+ 2M Karras,/);
      expect(ended.notes?.join('\n')).toMatch(/no scheduler setting .*sampler "DPM\+\+ 2M Karras" was sent/);
    }
  });
});

describe('cancel against a real SD WebUI', () => {
  it('stops the GPU work of the cancelled job, queued calls included', async () => {
    const steps = 12;
    const { data } = await callTool<{ job_id: string }>(client, 'sdreforge_batch_start', {
      prompt: 'cancel me',
      n_iter: 4,
      steps,
      seed: 7,
      ...SMALL,
    });
    // Sampling for real, with the job's second call queued behind the first.
    await watchHost(url, (s) => s.jobCount > 0 && s.steps === steps && s.step >= 1);
    const cancelledAt = Date.now();
    await callTool(client, 'sdreforge_batch_cancel', { job_id: data.job_id });
    const runs = new Map<string, HostState[]>();
    let idleSince: number | undefined;
    await watchHost(
      url,
      (s) => {
        if (s.jobCount !== 0) {
          idleSince = undefined;
          runs.set(s.jobTimestamp, [...(runs.get(s.jobTimestamp) ?? []), s]);
          return false;
        }
        idleSince ??= s.at;
        // Idle long enough that a call still queued would have started.
        return s.at - idleSince >= 3_000;
      },
      { pollMs: 50 },
    );
    const busy = [...runs.values()].flat();
    const lastBusy = Math.max(cancelledAt, ...busy.map((s) => s.at));
    const stepsAfter = [...runs.values()].map((states) => Math.max(...states.map((s) => s.step)));
    console.log(
      `GPU busy ${((lastBusy - cancelledAt) / 1000).toFixed(1)} s after the cancel; ` +
        `runs seen after it: ${runs.size}, their last steps: ${stepsAfter.join(', ')}`,
    );
    // The call sampling at the cancel stops within the cancel check's second (it does not run
    // to its end); the one queued behind it stops at its first step.
    const [running, ...queued] = stepsAfter;
    expect(running).toBeLessThan(steps - 1);
    for (const last of queued) expect(last).toBeLessThanOrEqual(1);
    const ended = await waitForTerminal<{ status: string; completed_images: number }>(client, data.job_id);
    expect(ended.status).toBe('cancelled');
    // Partly sampled images of the interrupted calls are not results.
    expect(ended.completed_images).toBe(0);
    expect((await hostState(url)).jobCount).toBe(0);
  }, 180_000);
});
