import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { SdWebUiClient } from '../../adapters/sd-webui-client.ts';
import { SdWebUiRejectedError, SdWebUiUnavailableError } from '../../core/errors.ts';
import { type Simulator, startSimulator } from '../../local/simulator/server.ts';

let sim: Simulator;
let client: SdWebUiClient;
const payload = { prompt: 'p', steps: 2, width: 64, height: 64, batch_size: 2, seed: 10 };

beforeAll(async () => {
  sim = await startSimulator({ port: 0, stepMs: 1 });
  client = new SdWebUiClient({ baseUrl: `${sim.url}/` });
});
afterAll(async () => {
  await sim.close();
});

describe('SdWebUiClient against the simulator', () => {
  it('returns the images with their seeds and infotexts', async () => {
    sim.setFaults({ errorRate: 0, rejectRate: 0, malformedRate: 0, emptyRate: 0, dropRate: 0 });
    const result = await client.txt2img(payload);
    expect(result.images).toHaveLength(2);
    expect(result.seeds).toEqual([10, 11]);
    expect(result.infotexts[1]).toContain('Seed: 11');
    expect((await client.checkpoints()).length).toBeGreaterThan(0);
    expect(await client.scriptTitles()).toContain('adetailer');
  });

  it('hands the images to a sink as they arrive instead of holding them; the sink’s failure stays its own', async () => {
    sim.setFaults({ errorRate: 0, rejectRate: 0, malformedRate: 0, emptyRate: 0, dropRate: 0 });
    const taken: Array<[number, number]> = [];
    const result = await client.txt2img(payload, undefined, undefined, async (image, position) => {
      taken.push([position, image.length]);
    });
    expect(result.images).toEqual([]);
    expect(result.seeds).toEqual([10, 11]);
    expect(taken.map(([position]) => position)).toEqual([0, 1]);
    // PNG bytes, not base64 text.
    expect(taken.every(([, bytes]) => bytes > 0)).toBe(true);
    const full = await client.txt2img(payload);
    expect(taken.map(([, bytes]) => bytes)).toEqual(full.images.map((b) => b.length));

    const throttled = new Error('SlowDown');
    await expect(client.txt2img(payload, undefined, undefined, () => Promise.reject(throttled))).rejects.toBe(
      throttled,
    );
  });

  it('says when the answer begins, before its body is read, and not for a call that never answers', async () => {
    const events: string[] = [];
    const answered = client.txt2img(payload, undefined, () => events.push('answering'));
    await answered.then(() => events.push('read'));
    expect(events).toEqual(['answering', 'read']);

    sim.setFaults({ hangRate: 1 });
    try {
      const stop = new AbortController();
      const hung = client.txt2img(payload, stop.signal, () => events.push('hung answering'));
      // Until the simulator shows the request over (idle), then a little: it never answers.
      while ((await client.progress()).jobTimestamp !== null || sim.stats().requests < 2) {
        await new Promise((resolve) => setImmediate(resolve));
      }
      stop.abort();
      await expect(hung).rejects.toBeInstanceOf(SdWebUiUnavailableError);
      expect(events).toEqual(['answering', 'read']);
    } finally {
      sim.setFaults({ hangRate: 0 });
    }
  });

  it.each([
    ['a 5xx', { errorRate: 1 }, SdWebUiUnavailableError],
    ['a dropped connection', { dropRate: 1 }, SdWebUiUnavailableError],
    ['malformed JSON', { malformedRate: 1 }, SdWebUiUnavailableError],
    ['a 200 without images', { emptyRate: 1 }, SdWebUiUnavailableError],
    ['a 422', { rejectRate: 1 }, SdWebUiRejectedError],
  ] as const)('sorts %s into the right error', async (_what, faults, errorClass) => {
    sim.setFaults({ errorRate: 0, rejectRate: 0, malformedRate: 0, emptyRate: 0, dropRate: 0, ...faults });
    await expect(client.txt2img(payload)).rejects.toBeInstanceOf(errorClass);
    sim.setFaults({ errorRate: 0, rejectRate: 0, malformedRate: 0, emptyRate: 0, dropRate: 0 });
  });

  it("tells a tunnel's 524 (the host may still run the call) from the host's own failures", async () => {
    // stepMs 1: 2000 steps outlast a 50 ms tunnel by far.
    sim.setFaults({ tunnelSeconds: 0.05 });
    try {
      const cut = await client.txt2img({ ...payload, steps: 2000 }).catch((error: unknown) => error);
      expect(cut).toBeInstanceOf(SdWebUiUnavailableError);
      expect(cut).toMatchObject({
        mayStillRun: true,
        message: expect.stringMatching(/answered 524 from a tunnel/),
      });
    } finally {
      sim.setFaults({ tunnelSeconds: 0 });
      await client.interrupt();
    }
    sim.setFaults({ errorRate: 1 });
    const failed = await client.txt2img(payload).catch((error: unknown) => error);
    sim.setFaults({ errorRate: 0 });
    expect(failed).toMatchObject({ name: 'SdWebUiUnavailableError', mayStillRun: false });
  });

  it('asks for the sampler and scheduler lists once in a while, not before every call; a failure is not kept', async () => {
    const asked = vi.spyOn(globalThis, 'fetch');
    try {
      const fresh = new SdWebUiClient({ baseUrl: sim.url });
      const [first, second] = await Promise.all([fresh.schedulers(), fresh.schedulers()]);
      expect(second).toEqual(first);
      expect(await fresh.samplers()).toEqual(await fresh.samplers());
      const paths = asked.mock.calls.map(([url]) => new URL(String(url)).pathname);
      expect(paths.filter((p) => p === '/sdapi/v1/schedulers')).toHaveLength(1);
      expect(paths.filter((p) => p === '/sdapi/v1/samplers')).toHaveLength(1);

      asked.mockClear();
      const down = new SdWebUiClient({ baseUrl: 'http://127.0.0.1:1' });
      await expect(down.samplers()).rejects.toBeInstanceOf(SdWebUiUnavailableError);
      await expect(down.samplers()).rejects.toBeInstanceOf(SdWebUiUnavailableError);
      expect(asked).toHaveBeenCalledTimes(2);
    } finally {
      asked.mockRestore();
    }
  });

  it("reads the upscalers with the latent modes, and an extension's models only where it is installed", async () => {
    expect(await client.upscalers()).toEqual(
      expect.arrayContaining(['None', 'R-ESRGAN 4x+', 'Latent (bicubic)']),
    );
    expect(await client.adetailerModels()).toContain('face_yolov8n.pt');
    expect(await client.controlNetModels()).toContain('control_v11p_sd15_canny [d14c016b]');
    // A1111 1.8 as recorded: neither extension, so neither list is known (not empty).
    const old = await startSimulator({ port: 0, stepMs: 1, flavour: 'a1111-1.8' });
    try {
      const oldClient = new SdWebUiClient({ baseUrl: old.url });
      expect(await oldClient.adetailerModels()).toBeUndefined();
      expect(await oldClient.controlNetModels()).toBeUndefined();
      expect(await oldClient.schedulers()).toBeUndefined();
    } finally {
      await old.close();
    }
  });

  it('reports a real 422 with the field that was wrong', async () => {
    await expect(client.txt2img({ ...payload, steps: 'many' })).rejects.toThrow(/422: body\.steps/);
  });

  it('treats a refused connection and a time-out as transient', async () => {
    await expect(
      new SdWebUiClient({ baseUrl: 'http://127.0.0.1:1' }).txt2img(payload),
    ).rejects.toBeInstanceOf(SdWebUiUnavailableError);
    await expect(client.txt2img({ ...payload, steps: 50 }, AbortSignal.timeout(20))).rejects.toBeInstanceOf(
      SdWebUiUnavailableError,
    );
  });
});
