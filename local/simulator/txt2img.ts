import { defaultOptions } from './catalog.ts';
import { Engine, type SamplingResult } from './engine.ts';
import { httpException, SdApiError, serverException } from './errors.ts';
import { Faults } from './faults.ts';
import { type HostProfile, PROFILES } from './flavour.ts';
import { type GenerationPlan, infoObject, planTxt2Img } from './generation.ts';
import { encodePicture, renderPicture } from './picture.ts';
import { encodePng } from './png.ts';
import { type SamplesFormat, samplesFormat } from './samples-format.ts';
import { checkScripts, parseTxt2ImgBody } from './validate.ts';

export interface SimulatorStats {
  /** txt2img calls received, whatever became of them. */
  requests: number;
  /** txt2img calls answered 200 with a genuine (not fault-injected) body. */
  succeeded: number;
  /** Images in those bodies. */
  imagesReturned: number;
  /** The seed of each of those images, in order. */
  seedsReturned: number[];
  /** performance.now() ms at the start and end of each sampling run, and the steps it ran. */
  busyIntervals: Array<{ start: number; end: number; steps: number }>;
  /** The last request bodies received (at most 100), as parsed JSON, for tests of payload building. */
  received: unknown[];
  /** Requests the tunnel (tunnelSeconds) ended with a 524 while the host went on with them. */
  tunnelCuts: number;
  /** txt2img calls received while a request the tunnel had cut was still running or queued. */
  sentWhileCutRuns: number;
}

/** An HTTP answer; a transport fault tells the server to break it on purpose. */
export interface Reply {
  status: number;
  body: unknown;
  transportFault?: 'drop' | 'malformed' | 'hang';
}

export const emptyStats = (): SimulatorStats => ({
  requests: 0,
  succeeded: 0,
  imagesReturned: 0,
  seedsReturned: [],
  busyIntervals: [],
  received: [],
  tunnelCuts: 0,
  sentWhileCutRuns: 0,
});

export interface Timing {
  /** Wall time of one sampling step of one image. */
  stepMs: number;
  /** From a call's start to its first step (default half a step; the real server: ~0.4 s, half a step at 64x64). */
  setupMs?: number;
  /** Decoding a batch after its last step (default half a step). */
  decodeMs?: number;
}

/** Everything one simulated SD WebUI process holds. */
export class SimState {
  readonly engine = new Engine();
  readonly faults = new Faults();
  readonly options = defaultOptions();
  readonly timing: Required<Timing>;
  readonly profile: HostProfile;
  stats = emptyStats();
  /** See SimulatorOptions.flatImages. */
  flatImages = false;

  constructor(timing: Timing, profile: HostProfile = PROFILES.reforge) {
    const { stepMs, setupMs = stepMs / 2, decodeMs = stepMs / 2 } = timing;
    this.timing = { stepMs, setupMs, decodeMs };
    this.profile = profile;
  }
}

export const errorReply = (e: SdApiError): Reply => ({ status: e.status, body: e.body });

const OOM =
  'CUDA out of memory. Tried to allocate 2.50 GiB. GPU 0 has a total capacity of 23.64 GiB of which 1.13 GiB is free. ' +
  'Of the allocated memory 20.91 GiB is allocated by PyTorch, and 1.02 GiB is reserved by PyTorch but unallocated.';

const SIMULATED_REJECT = {
  detail: [{ loc: ['body'], msg: 'simulated rejection', type: 'value_error.simulated' }],
};

function preview(plan: GenerationPlan, batch: number): string {
  const i = batch * plan.batchSize;
  const { width, height } = plan.size;
  const rgb = renderPicture(plan.prompts[i] ?? '', plan.seeds[i] ?? 0, width, height);
  return encodePng({ width, height, rgb, text: {} }).toString('base64');
}

/** POST /sdapi/v1/txt2img: validate, draw a fault, wait for the lock, sample, answer. */
export async function txt2img(sim: SimState, raw: string, contentType?: string): Promise<Reply> {
  sim.stats.requests++;
  rememberBody(sim.stats, raw);
  const profile = sim.profile;
  const parsed = parseTxt2ImgBody(raw, contentType, profile.unknownFields);
  if (!parsed.ok) return { status: 422, body: { detail: parsed.detail } };
  const request = parsed.request;
  const scriptError = checkScripts(request, profile);
  if (scriptError) return errorReply(scriptError);
  const fault = sim.faults.draw();
  if (fault === 'reject') return { status: 422, body: SIMULATED_REJECT };

  let plan: GenerationPlan;
  let run: SamplingResult;
  try {
    [plan, run] = await sim.engine.exclusive(async () => {
      // Errors raised in processing come after state.begin: the failed call still shows in /progress.
      sim.engine.begin('scripts_txt2img');
      try {
        if (fault === 'error') throw serverException('OutOfMemoryError', OOM);
        const p = planTxt2Img(request, sim.options, profile);
        const slow = sim.faults.config.slowFactor;
        const r = await sim.engine.sample({
          nIter: p.nIter,
          passes: p.hrSteps > 0 ? [p.steps, p.hrSteps] : [p.steps],
          stepMs: sim.timing.stepMs * slow * p.batchSize,
          setupMs: sim.timing.setupMs * slow,
          decodeMs: sim.timing.decodeMs * slow,
          preview: (batch) => preview(p, batch),
        });
        sim.stats.busyIntervals.push({ start: r.start, end: r.end, steps: r.steps });
        return [p, r] as const;
      } finally {
        sim.engine.end();
      }
    });
  } catch (e) {
    if (e instanceof SdApiError) return errorReply(e);
    throw e;
  }

  const produced = run.batches.flatMap(({ batch, pass, complete }) =>
    Array.from({ length: plan.batchSize }, (_, j) => ({
      index: batch * plan.batchSize + j,
      size: pass > 0 ? plan.hrSize : plan.size,
      partial: !complete,
    })),
  );
  const info = infoObject(
    plan,
    produced.map((p) => p.index),
    run.jobTimestamp,
  );
  const send = request.send_images && fault !== 'empty';
  // Encoded after the call let go of the GPU, in the format the server's setting says then.
  const format = samplesFormat(sim.options.samples_format);
  if (send && !format) return errorReply(httpException(500, 'Invalid image format'));
  const encoding = { format: format ?? 'png', quality: Number(sim.options.jpeg_quality) };
  const images = !send
    ? []
    : sim.flatImages
      ? produced.map(({ size }) => flatPng(size.width, size.height))
      : await encodeAll(plan, produced, info.infotexts, encoding);
  if (fault === undefined) {
    sim.stats.succeeded++;
    sim.stats.imagesReturned += images.length;
    if (send) sim.stats.seedsReturned.push(...produced.map((p) => plan.seeds[p.index] ?? 0));
  }
  const parameters = Object.fromEntries(
    Object.entries(request).filter(([k]) => !profile.unknownFields.includes(k)),
  );
  const body = { images, parameters, info: JSON.stringify(info) };
  const transportFault = fault === 'drop' || fault === 'malformed' || fault === 'hang' ? fault : undefined;
  return { status: 200, body, transportFault };
}

/**
 * The batch's images as base64. Each picture is drawn in a turn of the event loop of its own (and
 * compressed off it): the simulator shares the loop with the stack, which must not stall for a
 * whole batch at once.
 */
async function encodeAll(
  plan: GenerationPlan,
  produced: Array<{ index: number; size: { width: number; height: number }; partial: boolean }>,
  infotexts: string[],
  encoding: { format: SamplesFormat; quality: number },
): Promise<string[]> {
  const pending: Array<Promise<Buffer>> = [];
  for (const [k, { index, size, partial }] of produced.entries()) {
    await new Promise((resolve) => setImmediate(resolve));
    pending.push(
      encodePicture({
        prompt: plan.prompts[index] ?? '',
        seed: plan.seeds[index] ?? 0,
        ...size,
        infotext: infotexts[k] ?? '',
        partial,
        ...encoding,
      }),
    );
  }
  return (await Promise.all(pending)).map((image) => image.toString('base64'));
}

const flatPngs = new Map<string, string>();

/** One grey PNG of the size, base64, encoded the first time it is asked for. */
function flatPng(width: number, height: number): string {
  const key = `${width}x${height}`;
  let png = flatPngs.get(key);
  if (!png) {
    png = encodePng({ width, height, rgb: new Uint8Array(width * height * 3).fill(128), text: {} }).toString(
      'base64',
    );
    flatPngs.set(key, png);
  }
  return png;
}

function rememberBody(stats: SimulatorStats, raw: string): void {
  try {
    stats.received.push(JSON.parse(raw));
  } catch {
    stats.received.push(raw);
  }
  if (stats.received.length > 100) stats.received.shift();
}
