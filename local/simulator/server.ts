import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { type Clock, systemClock } from '../../core/clock.ts';
import {
  ADETAILER_MODELS,
  CHECKPOINTS,
  CONTROLNET_MODELS,
  findCheckpoint,
  LATENT_UPSCALE_MODES,
  SCHEDULERS,
  scriptsList,
  UPSCALERS,
} from './catalog.ts';
import { EXCEPTION_GROUP, pyRepr, SdApiError, serverException } from './errors.ts';
import type { FaultConfig } from './faults.ts';
import { type Flavour, PROFILES } from './flavour.ts';
import { readBody, sendHalfThenDrop, sendJson, sendText } from './http.ts';
import { emptyStats, errorReply, type Reply, SimState, type SimulatorStats, txt2img } from './txt2img.ts';
import { parseJsonBody, toBool } from './validate.ts';

export type { FaultConfig } from './faults.ts';
export type { Flavour } from './flavour.ts';
export type { SimulatorStats } from './txt2img.ts';

export interface SimulatorOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Wall time of one sampling step of one image; default 50. */
  stepMs?: number;
  /** From a call's start to its first step, while sampling_steps still shows the last job's; default stepMs / 2. */
  setupMs?: number;
  /** Decoding a batch after its last step; default stepMs / 2. */
  decodeMs?: number;
  /** The server it stands in for; default 'reforge' (with schedulers). 'a1111-1.8': see flavour.ts. */
  flavour?: Flavour;
  /** A label for logs and GET /sim/stats when several simulators stand in for several GPU hosts. */
  name?: string;
  /** The tunnel's timer (fault tunnelSeconds); tests pass one they fire themselves. */
  tunnelClock?: Pick<Clock, 'sleep'>;
  /**
   * Answer every image with one flat PNG of the asked size, encoded once and without the
   * `parameters` chunk (the answer's `info` still has the infotexts): the bench's scale scenarios
   * time the coordination of thousands of images on two cores, not the pictures.
   */
  flatImages?: boolean;
}

export interface Simulator {
  /** http://HOST:PORT, no trailing slash. */
  url: string;
  name: string;
  close(): Promise<void>;
  stats(): SimulatorStats;
  resetStats(): void;
  /**
   * Occupies the GPU as another job would, until the returned function is called: calls queue
   * behind it (the bench fills a long queue of jobs before any image is made).
   */
  hold(): () => void;
  /** Throws a ZodError on bad values or unknown keys. */
  setFaults(f: Partial<FaultConfig>): void;
}

type Request = { req: IncomingMessage; url: URL; body: () => Promise<string> };
type Handler = (r: Request) => Reply | Promise<Reply>;

const ok = (body: unknown): Reply => ({ status: 200, body });

async function setOptions(sim: SimState, r: Request): Promise<Reply> {
  const parsed = parseJsonBody(await r.body(), r.req.headers['content-type']);
  if (!parsed.ok) return { status: 422, body: { detail: parsed.detail } };
  const { sd_model_checkpoint: wanted, ...rest } = parsed.value;
  const checkpoint = findCheckpoint(wanted);
  if (wanted !== undefined && wanted !== null && !checkpoint) {
    const name = typeof wanted === 'string' ? pyRepr(wanted) : JSON.stringify(wanted);
    throw serverException('RuntimeError', `model ${name} not found`);
  }
  const unknown = Object.keys(rest).find((k) => !(k in sim.options) && rest[k] !== null);
  if (unknown !== undefined) throw serverException('KeyError', pyRepr(unknown));
  Object.assign(sim.options, rest);
  if (checkpoint && wanted !== sim.options.sd_model_checkpoint) {
    // A1111 and reForge load the new weights inside the request, after waiting for the queue lock.
    // The setting keeps the name as sent (opts.set), e.g. "random-sd15" rather than the title.
    await sim.engine.exclusive(async () => {
      sim.options.sd_model_checkpoint = wanted;
      sim.options.sd_checkpoint_hash = checkpoint.sha256;
    });
  }
  return ok(null);
}

function progress(sim: SimState, r: Request): Reply {
  const raw = r.url.searchParams.get('skip_current_image');
  const skip = raw === null ? false : toBool(raw);
  if (skip === undefined) {
    const detail = [
      {
        loc: ['query', 'skip_current_image'],
        msg: 'value could not be parsed to a boolean',
        type: 'type_error.bool',
      },
    ];
    return { status: 422, body: { detail } };
  }
  return ok(sim.engine.progress(skip));
}

function routes(sim: SimState, name: string): Record<string, Partial<Record<string, Handler>>> {
  const models = CHECKPOINTS.map(({ title, model_name, shorthash, sha256, filename, config }) => {
    return { title, model_name, hash: shorthash, sha256, filename, config };
  });
  const profile = sim.profile;
  return {
    '/sdapi/v1/txt2img': { POST: async (r) => txt2img(sim, await r.body(), r.req.headers['content-type']) },
    '/sdapi/v1/progress': { GET: (r) => progress(sim, r) },
    '/sdapi/v1/interrupt': {
      POST: () => {
        sim.engine.interrupt();
        return ok({});
      },
    },
    '/sdapi/v1/skip': {
      POST: () => {
        sim.engine.skip();
        return ok(null);
      },
    },
    '/sdapi/v1/options': { GET: () => ok(sim.options), POST: (r) => setOptions(sim, r) },
    '/sdapi/v1/sd-models': { GET: () => ok(models) },
    '/sdapi/v1/samplers': { GET: () => ok(profile.samplers) },
    ...(profile.schedulers ? { '/sdapi/v1/schedulers': { GET: () => ok(SCHEDULERS) } } : {}),
    '/sdapi/v1/upscalers': { GET: () => ok(UPSCALERS) },
    '/sdapi/v1/latent-upscale-modes': { GET: () => ok(LATENT_UPSCALE_MODES.map((n) => ({ name: n }))) },
    '/sdapi/v1/scripts': { GET: () => ok(scriptsList()) },
    ...(profile.extensionRoutes
      ? {
          '/adetailer/v1/ad_model': { GET: () => ok({ ad_model: ADETAILER_MODELS }) },
          '/controlnet/model_list': { GET: () => ok({ model_list: CONTROLNET_MODELS }) },
        }
      : {}),
    '/internal/ping': { GET: () => ok({}) },
    '/sim/stats': { GET: () => ok({ name, ...sim.stats }) },
    '/sim/faults': {
      GET: () => ok(sim.faults.config),
      POST: async (r) => {
        const parsed = parseJsonBody(await r.body(), r.req.headers['content-type']);
        if (!parsed.ok) return { status: 422, body: { detail: parsed.detail } };
        try {
          return ok(sim.faults.set(parsed.value));
        } catch (e) {
          if (e instanceof z.ZodError) return { status: 400, body: { detail: z.prettifyError(e) } };
          throw e;
        }
      },
    },
  };
}

export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const { port = 0, host = '127.0.0.1', stepMs = 50, name = 'sd-webui-simulator' } = options;
  const { setupMs = stepMs / 2, decodeMs = stepMs / 2, flavour = 'reforge' } = options;
  for (const [key, ms] of Object.entries({ stepMs, setupMs, decodeMs })) {
    if (!(Number.isFinite(ms) && ms >= 0)) throw new RangeError(`${key} must be a number >= 0, got ${ms}`);
  }
  const profile = PROFILES[flavour];
  if (!profile)
    throw new RangeError(`flavour must be one of ${Object.keys(PROFILES).join(', ')}, got ${flavour}`);
  const sim = new SimState({ stepMs, setupMs, decodeMs }, profile);
  sim.flatImages = options.flatImages === true;
  const table = routes(sim, name);
  const tunnelClock = options.tunnelClock ?? systemClock;
  let closing = false;
  /** Requests the tunnel cut that the host still runs or queues. */
  let cutRunning = 0;

  async function answer(req: IncomingMessage, url: URL): Promise<Reply | 'destroy'> {
    const methods = table[url.pathname];
    const handler = methods?.[req.method ?? 'GET'];
    if (!methods) return { status: 404, body: { detail: 'Not Found' } };
    if (!handler) return { status: 405, body: { detail: 'Method Not Allowed' } };
    try {
      return await handler({ req, url, body: () => readBody(req) });
    } catch (e) {
      if (e instanceof SdApiError) return errorReply(e);
      if (closing) return 'destroy';
      return errorReply(serverException(e instanceof Error ? e.name : 'Exception', String(e)));
    }
  }

  /** The answer, unless the tunnel (fault tunnelSeconds) gives up first: the host goes on regardless. */
  async function throughTunnel(req: IncomingMessage, url: URL): Promise<Reply | 'destroy' | 'cut'> {
    const limitMs = url.pathname.startsWith('/sim/') ? 0 : sim.faults.config.tunnelSeconds * 1000;
    if (url.pathname === '/sdapi/v1/txt2img' && cutRunning > 0) sim.stats.sentWhileCutRuns++;
    const answered = answer(req, url);
    if (limitMs <= 0) return answered;
    const timer = new AbortController();
    const cut = tunnelClock.sleep(limitMs, timer.signal).then(() => 'cut' as const);
    const first = await Promise.race([answered, cut]);
    timer.abort();
    if (first !== 'cut') return first;
    sim.stats.tunnelCuts++;
    cutRunning++;
    void answered.finally(() => cutRunning--);
    return 'cut';
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const startedAt = performance.now();
    const url = new URL(req.url ?? '/', 'http://simulator');
    let reply = await throughTunnel(req, url);
    if (reply === 'destroy') return void res.destroy();
    // What Cloudflare answers an API client when the origin took more than its 100 s.
    if (reply === 'cut') return sendText(req, res, startedAt, 524, 'error code: 524');
    const error = (reply.body as { error?: unknown } | null)?.error;
    if (reply.status === 500 && profile.exceptionGroups && error !== 'HTTPException') {
      reply = { ...reply, body: EXCEPTION_GROUP }; // HTTPExceptions are answered inside, unwrapped
    }
    if (reply.transportFault === 'hang') return; // answered by close(), which destroys the socket
    if (reply.transportFault === 'drop') return sendHalfThenDrop(req, res, startedAt, reply.body);
    if (reply.transportFault === 'malformed') {
      const text = JSON.stringify(reply.body);
      return sendText(req, res, startedAt, reply.status, text.slice(0, text.length >> 1));
    }
    sendJson(req, res, startedAt, reply.status, reply.body);
  }

  const server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  return {
    url: `http://${urlHost}:${address.port}`,
    name,
    stats: () => structuredClone(sim.stats),
    resetStats: () => {
      sim.stats = emptyStats();
    },
    setFaults: (f) => void sim.faults.set(f),
    hold: () => {
      const { promise, resolve } = Promise.withResolvers<void>();
      sim.engine.exclusive(() => promise).catch(() => undefined);
      return () => resolve();
    },
    close: async () => {
      if (closing) return;
      closing = true;
      sim.engine.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
