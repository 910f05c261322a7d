import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { readPng } from '../../../local/simulator/png.ts';
import { type Simulator, type SimulatorStats, startSimulator } from '../../../local/simulator/server.ts';

const NO_FAULTS = {
  errorRate: 0,
  dropRate: 0,
  malformedRate: 0,
  emptyRate: 0,
  hangRate: 0,
  rejectRate: 0,
  slowFactor: 1,
  tunnelSeconds: 0,
};

interface Txt2ImgResponse {
  images: string[];
  parameters: Record<string, unknown>;
  info: string;
}

interface Progress {
  progress: number;
  eta_relative: number;
  current_image: string | null;
  state: {
    job_count: number;
    job_no: number;
    sampling_step: number;
    sampling_steps: number;
    interrupted: boolean;
  };
}

let sim: Simulator;

const post = (path: string, body: unknown) =>
  fetch(`${sim.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

async function txt2img(body: Record<string, unknown>) {
  const res = await post('/sdapi/v1/txt2img', body);
  expect(res.status).toBe(200);
  const json = (await res.json()) as Txt2ImgResponse;
  return { ...json, info: JSON.parse(json.info) as Record<string, unknown> & { all_seeds: number[] } };
}

const progress = async (skip = true) =>
  (await (await fetch(`${sim.url}/sdapi/v1/progress?skip_current_image=${skip}`)).json()) as Progress;

/** Polls /progress until it matches: each poll waits for the server's answer, nothing else. */
async function until(check: (p: Progress) => boolean, skip = true): Promise<Progress> {
  const deadline = performance.now() + 5000;
  for (;;) {
    const p = await progress(skip);
    if (check(p)) return p;
    if (performance.now() > deadline) throw new Error(`progress never matched: ${JSON.stringify(p)}`);
  }
}

const seedOf = (image: string) =>
  Number(/Seed: (\d+)/.exec(readPng(Buffer.from(image, 'base64')).text.parameters ?? '')?.[1]);

beforeAll(async () => {
  sim = await startSimulator({ stepMs: 2, name: 'test-gpu' });
});
afterAll(() => sim.close());
afterEach(() => {
  sim.setFaults(NO_FAULTS);
  sim.resetStats();
});

describe('txt2img', () => {
  it('returns batch_size × n_iter PNGs of the floored size with seeds seed..seed+3', async () => {
    const r = await txt2img({
      prompt: 'a cat',
      seed: 1000,
      batch_size: 2,
      n_iter: 2,
      steps: 3,
      width: 100,
      height: 60,
    });
    expect(r.images).toHaveLength(4);
    for (const image of r.images) {
      expect(readPng(Buffer.from(image, 'base64'))).toMatchObject({ width: 96, height: 56 });
    }
    expect(r.images.map(seedOf)).toEqual([1000, 1001, 1002, 1003]);
    expect(r.info).toMatchObject({ seed: 1000, all_seeds: [1000, 1001, 1002, 1003], width: 100, height: 60 });
    expect(r.info.infotexts).toEqual(r.images.map((i) => readPng(Buffer.from(i, 'base64')).text.parameters));
    expect(r.parameters).toMatchObject({ seed: 1000, batch_size: 2, cfg_scale: 7, sampler_index: 'Euler' });
    expect(sim.stats()).toMatchObject({
      requests: 1,
      succeeded: 1,
      imagesReturned: 4,
      seedsReturned: [1000, 1001, 1002, 1003],
    });
  });

  it('resolves seed -1 to a concrete seed and echoes -1 in parameters', async () => {
    const r = await txt2img({ seed: -1, steps: 1, width: 64, height: 64 });
    const seed = r.info.seed as number;
    expect(Number.isInteger(seed) && seed >= 0 && seed < 4294967294).toBe(true);
    expect(r.images.map(seedOf)).toEqual([seed]);
    expect(r.parameters.seed).toBe(-1);
  });

  it('sends no images when send_images is false', async () => {
    const r = await txt2img({ send_images: false, steps: 1, width: 64, height: 64, seed: 4 });
    expect(r.images).toEqual([]);
    expect(r.info.all_seeds).toEqual([4]);
  });

  it('adds the hires pass: upscaled images, twice the jobs', async () => {
    const running = txt2img({ enable_hr: true, hr_scale: 2, steps: 10, width: 64, height: 64, seed: 1 });
    const p = await until((x) => x.state.job_count > 0);
    expect(p.state.job_count).toBe(2);
    const r = await running;
    expect(readPng(Buffer.from(r.images[0] ?? '', 'base64'))).toMatchObject({ width: 128, height: 128 });
  });

  it('serves concurrent requests one at a time, in arrival order', async () => {
    const body = { steps: 10, width: 64, height: 64 };
    const finished: string[] = [];
    const first = txt2img({ ...body, seed: 1 }).then(() => finished.push('first'));
    await until((p) => p.state.job_count > 0);
    const second = txt2img({ ...body, seed: 2 }).then(() => finished.push('second'));
    await Promise.all([first, second]);
    expect(finished).toEqual(['first', 'second']);
    const [a, b] = sim.stats().busyIntervals;
    if (!a || !b) throw new Error('expected two busy intervals');
    expect(b.start).toBeGreaterThanOrEqual(a.end);
    expect(a.end - a.start).toBeGreaterThanOrEqual(18); // 10 steps × 2 ms
  });

  it('queues calls behind a hold, as behind another job, and samples them once it is let go', async () => {
    const release = sim.hold();
    const call = txt2img({ steps: 2, width: 64, height: 64 });
    await vi.waitFor(() => expect(sim.stats().requests).toBe(1));
    const letGo = performance.now();
    release();
    await call;
    // Its sampling began after the hold ended, not when it arrived.
    expect(sim.stats().busyIntervals[0]?.start).toBeGreaterThanOrEqual(letGo);
  });

  it('reports progress while sampling and the idle shape afterwards', async () => {
    const running = txt2img({ steps: 20, batch_size: 2, width: 64, height: 64 });
    const p = await until((x) => x.state.sampling_step > 0);
    expect(p.state).toMatchObject({ job_count: 1, job_no: 0, sampling_steps: 20 });
    expect(p.progress).toBeGreaterThan(0);
    expect(p.progress).toBeLessThan(1);
    expect(p.eta_relative).toBeGreaterThan(0);
    await running;
    const idle = await progress();
    expect(idle).toMatchObject({ progress: 0, eta_relative: 0, current_image: null, textinfo: null });
    expect(idle.state.job_count).toBe(0);
  });

  it('sends a live preview only when skip_current_image is false', async () => {
    const running = txt2img({ steps: 40, width: 64, height: 64 });
    const p = await until((x) => x.current_image !== null, false);
    expect(readPng(Buffer.from(p.current_image ?? '', 'base64'))).toMatchObject({ width: 64, height: 64 });
    expect((await progress(true)).current_image).toBeNull();
    await running;
  });

  it('interrupt returns the current batch only; the next job is not affected', async () => {
    const body = { batch_size: 2, n_iter: 3, steps: 15, width: 64, height: 64, seed: 50 };
    const running = txt2img(body);
    await until((p) => p.state.sampling_step > 0);
    expect((await post('/sdapi/v1/interrupt', {})).status).toBe(200);
    const r = await running;
    expect(r.images.map(seedOf)).toEqual([50, 51]);
    expect(r.info.all_seeds).toHaveLength(6);
    expect(r.info.infotexts).toHaveLength(2);
    const next = await txt2img({ ...body, n_iter: 2, steps: 2 });
    expect(next.images).toHaveLength(4);
  });

  it('interrupt while idle does nothing', async () => {
    await post('/sdapi/v1/interrupt', {});
    expect((await txt2img({ n_iter: 2, steps: 2, width: 64, height: 64 })).images).toHaveLength(2);
  });

  it('skip ends the current batch and goes on with the next', async () => {
    const running = txt2img({ n_iter: 2, steps: 30, width: 64, height: 64, seed: 7 });
    await until((p) => p.state.sampling_step > 0);
    expect(await (await post('/sdapi/v1/skip', {})).json()).toBeNull();
    const r = await running;
    expect(r.images.map(seedOf)).toEqual([7, 8]);
  });
});

describe('422 shapes', () => {
  it.each([
    [
      { steps: 'abc' },
      { loc: ['body', 'steps'], msg: 'value is not a valid integer', type: 'type_error.integer' },
    ],
    [
      { send_images: null },
      {
        loc: ['body', 'send_images'],
        msg: 'none is not an allowed value',
        type: 'type_error.none.not_allowed',
      },
    ],
    [
      '{"steps": 20,',
      {
        loc: ['body', 13],
        msg: 'Expecting property name enclosed in double quotes: line 1 column 14 (char 13)',
        type: 'value_error.jsondecode',
      },
    ],
  ])('rejects %j', async (body, error) => {
    const res = await post('/sdapi/v1/txt2img', body);
    expect(res.status).toBe(422);
    const json = (await res.json()) as { detail: unknown[] };
    expect(json.detail).toHaveLength(1);
    expect(json.detail[0]).toMatchObject(error);
  });

  it('rejects an unknown alwayson script before queueing', async () => {
    const res = await post('/sdapi/v1/txt2img', { alwayson_scripts: { 'No Such Script': { args: [] } } });
    expect(res.status).toBe(422);
    expect(await res.json()).toMatchObject({
      error: 'HTTPException',
      detail: "Script 'No Such Script' not found",
    });
    expect(sim.stats().busyIntervals).toEqual([]);
  });
});

describe('other endpoints', () => {
  it('lists models, samplers, schedulers, upscalers and scripts', async () => {
    const get = async (path: string) => (await fetch(`${sim.url}/sdapi/v1/${path}`)).json();
    const models = (await get('sd-models')) as Array<{ title: string }>;
    expect(models.map((m) => m.title)).toContain('sd_xl_base_1.0.safetensors [31e35c80fc]');
    expect(await get('samplers')).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'Euler a' })]),
    );
    expect(await get('schedulers')).toEqual(
      expect.arrayContaining([expect.objectContaining({ label: 'Karras' })]),
    );
    expect(await get('upscalers')).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'R-ESRGAN 4x+' })]),
    );
    expect(((await get('scripts')) as { txt2img: string[] }).txt2img).toContain('dynamic prompts v2.17.1');
    expect(await (await fetch(`${sim.url}/internal/ping`)).json()).toEqual({});
  });

  it('switches the checkpoint through POST /options and 500s on an unknown one', async () => {
    const options = `${sim.url}/sdapi/v1/options`;
    const unknown = await post('/sdapi/v1/options', { sd_model_checkpoint: 'nope.safetensors' });
    expect(unknown.status).toBe(500);
    expect(await unknown.json()).toEqual({
      error: 'RuntimeError',
      detail: '',
      body: '',
      errors: "model 'nope.safetensors' not found",
    });
    expect(
      await (await post('/sdapi/v1/options', { sd_model_checkpoint: 'v1-5-pruned-emaonly' })).json(),
    ).toBeNull();
    const current = (await (await fetch(options)).json()) as { sd_model_checkpoint: string };
    expect(current.sd_model_checkpoint).toBe('v1-5-pruned-emaonly'); // kept as sent, as opts.set does
    const r = await txt2img({ steps: 1, width: 64, height: 64 });
    expect(r.info).toMatchObject({ sd_model_name: 'v1-5-pruned-emaonly', sd_model_hash: '6ce0161689' });
    const overridden = await txt2img({
      steps: 1,
      width: 64,
      height: 64,
      override_settings: { sd_model_checkpoint: 'sd_xl_base_1.0' },
    });
    expect(overridden.info.sd_model_name).toBe('sd_xl_base_1.0');
    await post('/sdapi/v1/options', { sd_model_checkpoint: 'sd_xl_base_1.0.safetensors [31e35c80fc]' });
  });

  it('answers unknown routes 404 and wrong methods 405', async () => {
    const missing = await fetch(`${sim.url}/sdapi/v1/nope`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ detail: 'Not Found' });
    expect((await fetch(`${sim.url}/sdapi/v1/txt2img`)).status).toBe(405);
  });
});

describe('fault injection', () => {
  const body = { steps: 2, width: 64, height: 64, seed: 9 };

  it('errorRate 1 → 500 OutOfMemoryError', async () => {
    sim.setFaults({ errorRate: 1 });
    const res = await post('/sdapi/v1/txt2img', body);
    expect(res.status).toBe(500);
    expect(await res.json()).toMatchObject({ error: 'OutOfMemoryError', detail: '', body: '' });
  });

  it('rejectRate 1 → 422', async () => {
    sim.setFaults({ rejectRate: 1 });
    expect((await post('/sdapi/v1/txt2img', body)).status).toBe(422);
  });

  it('malformedRate 1 → 200 with invalid JSON', async () => {
    sim.setFaults({ malformedRate: 1 });
    const res = await post('/sdapi/v1/txt2img', body);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text.startsWith('{"images":')).toBe(true);
    expect(() => JSON.parse(text)).toThrow();
  });

  it('dropRate 1 → the client sees a broken connection', async () => {
    sim.setFaults({ dropRate: 1 });
    await expect(post('/sdapi/v1/txt2img', body).then((res) => res.text())).rejects.toThrow();
  });

  it('emptyRate 1 → 200 with images []', async () => {
    sim.setFaults({ emptyRate: 1 });
    const r = await txt2img(body);
    expect(r.images).toEqual([]);
    expect(r.info.all_seeds).toEqual([9]);
  });

  it('counts only images of genuine successes', async () => {
    sim.setFaults({ emptyRate: 1 });
    await txt2img(body);
    sim.setFaults({ errorRate: 1, emptyRate: 0 });
    await post('/sdapi/v1/txt2img', body);
    sim.setFaults({ errorRate: 0 });
    await txt2img({ ...body, batch_size: 2 });
    expect(sim.stats()).toMatchObject({
      requests: 3,
      succeeded: 1,
      imagesReturned: 2,
      seedsReturned: [9, 10],
    });
  });

  it('draws reproducible fault sequences from the seed, settable over HTTP', async () => {
    const outcomes = async () => {
      const res = await post('/sim/faults', { errorRate: 0.5, seed: 42 });
      expect(await res.json()).toMatchObject({ errorRate: 0.5, seed: 42 });
      const statuses: number[] = [];
      for (let i = 0; i < 12; i++)
        statuses.push((await post('/sdapi/v1/txt2img', { ...body, steps: 1 })).status);
      return statuses;
    };
    const first = await outcomes();
    expect(first).toContain(500);
    expect(first).toContain(200);
    expect(await outcomes()).toEqual(first);
    const stats = (await (await fetch(`${sim.url}/sim/stats`)).json()) as { name: string; succeeded: number };
    expect(stats.name).toBe('test-gpu');
    expect(stats.succeeded).toBe(first.filter((s) => s === 200).length * 2);
    expect((await post('/sim/faults', { errorRate: 2 })).status).toBe(400);
  });

  it('slowFactor stretches every step', async () => {
    sim.setFaults({ slowFactor: 10 });
    await txt2img({ ...body, steps: 3 });
    const [run] = sim.stats().busyIntervals;
    expect((run?.end ?? 0) - (run?.start ?? 0)).toBeGreaterThanOrEqual(55); // 3 × 2 ms × 10
  });
});

describe('tunnel mode', () => {
  it('ends a request past tunnelSeconds with 524 while the host goes on sampling it', async () => {
    // The tunnel's timer fires when the test says: its 100 s pass at once, with no sleep.
    const timers: Array<() => void> = [];
    const tunnelClock = {
      sleep: (_ms: number, signal?: AbortSignal) =>
        new Promise<void>((resolve) => {
          timers.push(resolve);
          signal?.addEventListener('abort', () => resolve(), { once: true });
        }),
    };
    const own = await startSimulator({ stepMs: 5, tunnelClock });
    try {
      own.setFaults({ tunnelSeconds: 100 });
      const call = (steps: number) =>
        fetch(`${own.url}/sdapi/v1/txt2img`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ steps, width: 64, height: 64 }),
        });
      const long = call(2000);
      const stats = async () => (await (await fetch(`${own.url}/sim/stats`)).json()) as SimulatorStats;
      const sampling = async () =>
        ((await (await fetch(`${own.url}/sdapi/v1/progress`)).json()) as Progress).state.sampling_step > 0;
      while (!(await sampling()));
      for (const fire of timers.splice(0)) fire();
      const cut = await long;
      expect(cut.status).toBe(524);
      expect(await cut.text()).toBe('error code: 524');
      // The host did not notice: it still samples the request nobody waits for.
      expect(await sampling()).toBe(true);
      const next = call(1);
      while ((await stats()).sentWhileCutRuns === 0);
      await fetch(`${own.url}/sdapi/v1/interrupt`, { method: 'POST' });
      expect((await next).status).toBe(200);
      expect(await stats()).toMatchObject({ tunnelCuts: 1, sentWhileCutRuns: 1 });
    } finally {
      await own.close();
    }
  });
});

describe('close', () => {
  it('ends hung and queued requests promptly', async () => {
    const own = await startSimulator({ stepMs: 1 });
    own.setFaults({ hangRate: 1 });
    const call = () =>
      fetch(`${own.url}/sdapi/v1/txt2img`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ steps: 2, width: 64, height: 64 }),
      });
    const hung = call();
    const queued = call();
    const hungOutcome = expect(hung).rejects.toThrow();
    const queuedOutcome = expect(queued).rejects.toThrow();
    // The hung request holds the GPU once /sim/stats shows it busy (asked over HTTP, as a client would).
    const stats = async () => (await (await fetch(`${own.url}/sim/stats`)).json()) as SimulatorStats;
    while ((await stats()).busyIntervals.length === 0);
    // A close that waited for the hung request would never return: the test's time-out fails it.
    await own.close();
    await hungOutcome;
    await queuedOutcome;
  });
});

describe('flat images', () => {
  it('answers each image with the same flat PNG of the asked size, infotexts in info only', async () => {
    const own = await startSimulator({ stepMs: 1, flatImages: true });
    try {
      const answer = await fetch(`${own.url}/sdapi/v1/txt2img`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ prompt: 'a cat', seed: 5, steps: 1, width: 64, height: 48, n_iter: 2 }),
      });
      const body = (await answer.json()) as { images: string[]; info: string };
      expect(body.images).toHaveLength(2);
      expect(body.images[0]).toBe(body.images[1]);
      const png = readPng(Buffer.from(body.images[0] ?? '', 'base64'));
      expect(png).toMatchObject({ width: 64, height: 48 });
      expect(png.text.parameters).toBeUndefined();
      expect(JSON.parse(body.info).infotexts).toHaveLength(2);
      expect(own.stats()).toMatchObject({ imagesReturned: 2, seedsReturned: [5, 6] });
    } finally {
      await own.close();
    }
  });
});
