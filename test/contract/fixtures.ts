import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Answer, type Exchange, pollProgress, send } from './sd-webui-http.ts';

/**
 * Fixtures: answers of a real SD WebUI (A1111 v1.8.0), recorded by record-fixtures.ts. One file per
 * exchange; base64 images are replaced by `<base64 PNG WxH>` markers, except in the answers of
 * another samples_format, which keep their (small) JPEG and WebP images whole. The same scenario code drives
 * the recording (real server) and the fixture-shape test (simulator).
 */

export const FIXTURE_DIR = new URL('../fixtures/sd-webui-1.8', import.meta.url).pathname;

export interface ScenarioContext {
  /** A txt2img started first; the scenario waits until its first step is done. */
  txt2img: Record<string, unknown>;
  /** Sent once that call samples. */
  action?: 'interrupt' | 'skip';
  /** What the fixture holds: the request's answer while the call samples or once it ended, or the call's own answer. */
  holds: 'request-while-sampling' | 'request-when-idle' | 'its-answer';
}

export interface Scenario {
  name: string;
  about: string;
  request: Exchange;
  context?: ScenarioContext;
  /**
   * The server's samples_format option while the request is sent (a server-wide setting, set
   * before and set back after): answers in JPEG or WebP. The images are kept whole in the fixture.
   */
  samplesFormat?: string;
}

export interface Fixture extends Scenario {
  recorded: { server: string; ms: number };
  status: number;
  body: unknown;
}

const txt2img = (body: unknown, contentType?: string): Exchange => ({
  method: 'POST',
  path: '/sdapi/v1/txt2img',
  body,
  contentType,
});
const get = (path: string): Exchange => ({ method: 'GET', path });
const progress = get('/sdapi/v1/progress?skip_current_image=true');
const small = { prompt: 'x', width: 64, height: 64 };

/** A 6-step call interrupted or skipped after its first step: its own answer, then /progress once idle. */
function stopped(action: 'interrupt' | 'skip', name: string, flag: string, seed: number): Scenario[] {
  const body = { ...small, steps: 6, seed };
  const idleBody = { ...body, seed: seed + 1 };
  return [
    {
      name,
      about: `the answer of a 6-step call ${flag} after its first step: 200 with its images`,
      request: txt2img(body),
      context: { txt2img: body, action, holds: 'its-answer' },
    },
    {
      name: `progress-idle-after-${action}`,
      about: `GET /progress once the ${flag} call ended: ${flag} stays true`,
      request: progress,
      context: { txt2img: idleBody, action, holds: 'request-when-idle' },
    },
  ];
}

export const SCENARIOS: Scenario[] = [
  { name: 'get-options', about: 'GET /options: every setting', request: get('/sdapi/v1/options') },
  { name: 'get-sd-models', about: 'GET /sd-models', request: get('/sdapi/v1/sd-models') },
  { name: 'get-samplers', about: 'GET /samplers', request: get('/sdapi/v1/samplers') },
  { name: 'get-upscalers', about: 'GET /upscalers', request: get('/sdapi/v1/upscalers') },
  {
    name: 'get-latent-upscale-modes',
    about: 'GET /latent-upscale-modes',
    request: get('/sdapi/v1/latent-upscale-modes'),
  },
  { name: 'get-scripts', about: 'GET /scripts', request: get('/sdapi/v1/scripts') },
  {
    name: 'get-schedulers-404',
    about: '/schedulers arrived in 1.9: 1.8 answers the default 404',
    request: get('/sdapi/v1/schedulers'),
  },
  {
    name: 'get-adetailer-models-404',
    about: "ADetailer's model list on a host without the extension: the default 404",
    request: get('/adetailer/v1/ad_model'),
  },
  {
    name: 'get-controlnet-models-404',
    about: "ControlNet's model list on a host without the extension: the default 404",
    request: get('/controlnet/model_list'),
  },
  { name: 'get-unknown-route-404', about: 'an unknown route', request: get('/sdapi/v1/nope') },
  { name: 'get-txt2img-405', about: 'GET on a POST route', request: get('/sdapi/v1/txt2img') },
  { name: 'progress-idle', about: 'GET /progress while idle (describes the last job)', request: progress },
  {
    name: 'post-interrupt-idle',
    about: 'POST /interrupt while idle',
    request: { method: 'POST', path: '/sdapi/v1/interrupt' },
  },
  {
    name: 'post-skip-idle',
    about: 'POST /skip while idle',
    request: { method: 'POST', path: '/sdapi/v1/skip' },
  },
  {
    name: 'post-options-checkpoint',
    about: 'POST /options with a known checkpoint title',
    request: {
      method: 'POST',
      path: '/sdapi/v1/options',
      body: { sd_model_checkpoint: 'random-sd15.safetensors [5dd3a9b884]' },
    },
  },
  {
    name: 'post-options-unknown-checkpoint-500',
    about: 'POST /options with an unknown checkpoint: a RuntimeError in A1111 code (see the error name)',
    request: { method: 'POST', path: '/sdapi/v1/options', body: { sd_model_checkpoint: 'nope.safetensors' } },
  },
  {
    name: 'post-options-unknown-key-500',
    about: 'POST /options with an unknown setting: a KeyError in A1111 code',
    request: { method: 'POST', path: '/sdapi/v1/options', body: { no_such_option: 1 } },
  },
  {
    name: 'txt2img',
    about: 'txt2img, batch_size 2, 2 steps, 64x64',
    request: txt2img({ ...small, steps: 2, seed: 5, batch_size: 2 }),
  },
  {
    name: 'txt2img-scheduler-field',
    about: 'txt2img with a scheduler field, which 1.8 does not know (ignored, not echoed)',
    request: txt2img({ ...small, steps: 1, seed: 6, scheduler: 'Karras' }),
  },
  {
    name: 'txt2img-hires',
    about: 'txt2img with hires fix: Latent, x1.5, 1 second-pass step, 64x64 -> 96x96',
    request: txt2img({
      ...small,
      steps: 2,
      seed: 7,
      enable_hr: true,
      hr_upscaler: 'Latent',
      hr_scale: 1.5,
      hr_second_pass_steps: 1,
      denoising_strength: 0.5,
    }),
  },
  {
    name: 'txt2img-422-type',
    about: 'a value of the wrong type',
    request: txt2img({ steps: 'abc' }),
  },
  {
    name: 'txt2img-422-null',
    about: 'null in a field that is not Optional',
    request: txt2img({ send_images: null }),
  },
  {
    name: 'txt2img-422-bad-json',
    about: 'a body that is not JSON',
    request: txt2img('{"steps": 20,'),
  },
  {
    name: 'txt2img-422-not-json-content-type',
    about: 'a JSON body sent as text/plain',
    request: txt2img('{"steps": 1}', 'text/plain'),
  },
  {
    name: 'txt2img-422-not-a-dict',
    about: 'a JSON array instead of an object',
    request: txt2img([1]),
  },
  {
    name: 'txt2img-404-sampler',
    about: 'an unknown sampler: 1.8 answers 404 before queueing',
    request: txt2img({ ...small, steps: 1, sampler_name: 'No Such Sampler' }),
  },
  {
    name: 'txt2img-422-unknown-script',
    about: 'an unknown alwayson script',
    request: txt2img({ ...small, steps: 1, alwayson_scripts: { 'No Such Script': { args: [] } } }),
  },
  {
    name: 'txt2img-500-hires-upscaler',
    about: 'an unknown hires upscaler: an Exception raised in processing',
    request: txt2img({ ...small, steps: 1, enable_hr: true, hr_upscaler: 'No Such Upscaler' }),
  },
  {
    name: 'progress-running',
    about: 'GET /progress while a 4-step call samples (after its first step)',
    request: progress,
    context: { txt2img: { ...small, steps: 4, seed: 8 }, holds: 'request-while-sampling' },
  },
  ...stopped('interrupt', 'txt2img-interrupted', 'interrupted', 9),
  ...stopped('skip', 'txt2img-skipped', 'skipped', 11),
  {
    name: 'txt2img-jpg',
    about: 'txt2img with samples_format "jpg": JPEG images, the infotext in their EXIF UserComment',
    request: txt2img({ ...small, prompt: 'x, ü 猫', steps: 1, seed: 15 }),
    samplesFormat: 'jpg',
  },
  {
    name: 'txt2img-webp',
    about: 'txt2img with samples_format "webp": WebP images, the infotext in their EXIF chunk',
    request: txt2img({ ...small, prompt: 'x, ü 猫', steps: 1, seed: 16 }),
    samplesFormat: 'webp',
  },
  {
    name: 'txt2img-500-samples-format',
    about: 'txt2img with samples_format "gif": made, then a 500 when the answer is encoded',
    request: txt2img({ ...small, steps: 1, seed: 17 }),
    samplesFormat: 'gif',
  },
];

export interface PollTiming {
  everyMs: number;
  withinMs: number;
}

/** Plays a scenario against a server and returns the answer the fixture holds. */
export async function play(baseUrl: string, s: Scenario, timing: PollTiming): Promise<Answer> {
  if (s.samplesFormat === undefined) return playAsSet(baseUrl, s, timing);
  const options = await send(baseUrl, { method: 'GET', path: '/sdapi/v1/options' });
  const before = (options.body as { samples_format?: unknown }).samples_format;
  const setFormat = async (samples_format: unknown) => {
    const set = await send(baseUrl, { method: 'POST', path: '/sdapi/v1/options', body: { samples_format } });
    if (set.status !== 200) throw new Error(`POST /options samples_format answered ${set.status}`);
  };
  await setFormat(s.samplesFormat);
  try {
    return await playAsSet(baseUrl, s, timing);
  } finally {
    await setFormat(before);
  }
}

async function playAsSet(baseUrl: string, s: Scenario, timing: PollTiming): Promise<Answer> {
  const context = s.context;
  if (!context) return send(baseUrl, s.request);
  const running = send(baseUrl, txt2img(context.txt2img));
  await pollProgress(baseUrl, (p) => p.state.job_count > 0 && p.state.sampling_step >= 1, timing);
  if (context.action) {
    const acted = await send(baseUrl, { method: 'POST', path: `/sdapi/v1/${context.action}` });
    if (acted.status !== 200) throw new Error(`POST /${context.action} answered ${acted.status}`);
  }
  if (context.holds === 'request-while-sampling') {
    const answer = await send(baseUrl, s.request);
    await running;
    return answer;
  }
  const own = await running;
  return context.holds === 'its-answer' ? own : send(baseUrl, s.request);
}

export function loadFixtures(): Fixture[] {
  return readdirSync(FIXTURE_DIR)
    .filter((f) => f.endsWith('.json') && !f.startsWith('trace-'))
    .sort()
    .map((f) => JSON.parse(readFileSync(join(FIXTURE_DIR, f), 'utf8')) as Fixture);
}

export function loadFixture(name: string): Fixture {
  return JSON.parse(readFileSync(join(FIXTURE_DIR, `${name}.json`), 'utf8')) as Fixture;
}
