import { z } from 'zod';
import { SdWebUiRejectedError, SdWebUiUnavailableError } from '../core/errors.ts';
import {
  Checkpoint,
  type ImageSink,
  type SdProgress,
  type SdWebUi,
  type Txt2ImgResult,
} from '../core/ports.ts';
import { readTxt2ImgBody, type Txt2ImgBody } from './txt2img-body.ts';

export interface SdWebUiHost {
  baseUrl: string;
  /** Sent with every call: Basic auth for --api-auth, or a tunnel's service-token headers. */
  headers?: Record<string, string>;
}

const Txt2ImgInfo = z.object({
  all_seeds: z.array(z.number()),
  all_subseeds: z.array(z.number()).optional(),
  infotexts: z.array(z.string()).optional(),
  index_of_first_image: z.number().int().optional(),
  job_timestamp: z.string().optional(),
});
const ScriptsResponse = z.object({ txt2img: z.array(z.string()) });
const CheckpointsResponse = z.array(Checkpoint);
const NamesResponse = z.array(z.object({ name: z.string(), label: z.string().optional() }));
/** ADetailer's GET /adetailer/v1/ad_model and ControlNet's GET /controlnet/model_list. */
const AdetailerModelsResponse = z.object({ ad_model: z.array(z.string()) });
const ControlNetModelsResponse = z.object({ model_list: z.array(z.string()) });
const ProgressResponse = z.object({
  progress: z.number(),
  state: z
    .object({
      sampling_step: z.number().optional(),
      sampling_steps: z.number().optional(),
      job_count: z.number().optional(),
      job_timestamp: z.string().optional(),
      interrupted: z.boolean().optional(),
      skipped: z.boolean().optional(),
    })
    .partial()
    .optional(),
});

/**
 * How long the sampler and scheduler lists are reused: they change only when SD WebUI restarts or
 * an extension is installed, and a job with a scheduler (the default preset's "Automatic") would
 * otherwise ask for them before every call.
 */
const NAME_LISTS_MS = 10 * 60_000;

/**
 * Statuses SD WebUI never sends itself but a tunnel or proxy in front of it does when it stops
 * waiting: 524 (Cloudflare: no answer within 100 s), 502 (bad gateway), 504 (gateway time-out).
 */
const GATEWAY_GAVE_UP = new Set([502, 504, 524]);

/** SD WebUI's HTTP API, with its failures sorted into "try again" and "this request is wrong". */
export class SdWebUiClient implements SdWebUi {
  private readonly host: SdWebUiHost;
  private readonly lists = new Map<string, { at: number; answer: Promise<unknown> }>();

  constructor(host: SdWebUiHost) {
    this.host = { ...host, baseUrl: host.baseUrl.replace(/\/+$/, '') };
  }

  async txt2img(
    payload: Record<string, unknown>,
    signal?: AbortSignal,
    answering?: () => void,
    sink?: ImageSink,
  ): Promise<Txt2ImgResult> {
    const path = '/sdapi/v1/txt2img';
    const response = await this.send('POST', path, payload, signal);
    answering?.();
    let body: Txt2ImgBody;
    // The sink's own failure (the image store's) is its error, not a bad answer from the host.
    let sinkFailure: { error: unknown } | undefined;
    const guarded: ImageSink | undefined =
      sink &&
      ((image, position) =>
        sink(image, position).catch((error: unknown) => {
          sinkFailure ??= { error };
          throw error;
        }));
    try {
      // Streamed: the images are the bulk of the answer and are decoded one at a time.
      body = await readTxt2ImgBody(response.body ?? emptyBody(), guarded);
    } catch (error) {
      if (sinkFailure) throw sinkFailure.error;
      throw new SdWebUiUnavailableError(
        `POST ${path}: the answer was malformed or cut off: ${reasonOf(error)}`,
        {
          cause: error,
        },
      );
    }
    if (typeof body.info !== 'string')
      throw new SdWebUiUnavailableError('Unexpected txt2img response: no info');
    const info = parseOrUnavailable(Txt2ImgInfo, safeJson(body.info), 'txt2img info');
    const first = info.index_of_first_image ?? 0;
    // The real images sit after an optional grid and before extras such as ControlNet maps.
    const count = Math.max(0, Math.min(info.all_seeds.length, body.count - first));
    if (count === 0) throw new SdWebUiUnavailableError('SD WebUI answered 200 without images');
    const infotexts = info.infotexts ?? [];
    return {
      images: body.images.slice(first, first + count),
      ...(first !== 0 ? { firstImage: first } : {}),
      seeds: info.all_seeds.slice(0, count),
      subseeds: (info.all_subseeds ?? []).slice(0, count),
      infotexts: infotexts.slice(first, first + count),
      ...(info.job_timestamp ? { jobTimestamp: info.job_timestamp } : {}),
    };
  }

  async progress(signal?: AbortSignal): Promise<SdProgress> {
    const body = await this.call('GET', '/sdapi/v1/progress?skip_current_image=true', undefined, signal);
    const parsed = parseOrUnavailable(ProgressResponse, body, 'progress response');
    const state = parsed.state ?? {};
    // Idle is job_count 0; the state then still describes the last request (its timestamp,
    // steps and flags) until the next one begins.
    const busy = (state.job_count ?? 0) !== 0;
    return {
      progress: busy ? parsed.progress : 0,
      step: busy ? (state.sampling_step ?? 0) : 0,
      steps: busy ? (state.sampling_steps ?? 0) : 0,
      jobTimestamp: busy ? (state.job_timestamp ?? null) : null,
      interrupted: Boolean(state.interrupted || state.skipped),
      ...(!busy && state.job_timestamp ? { lastJobTimestamp: state.job_timestamp } : {}),
    };
  }

  async scriptTitles(): Promise<string[]> {
    const body = await this.call('GET', '/sdapi/v1/scripts', undefined, AbortSignal.timeout(30_000));
    return parseOrUnavailable(ScriptsResponse, body, 'scripts list').txt2img;
  }

  async checkpoints(): Promise<Checkpoint[]> {
    const body = await this.call('GET', '/sdapi/v1/sd-models', undefined, AbortSignal.timeout(30_000));
    return parseOrUnavailable(CheckpointsResponse, body, 'checkpoint list');
  }

  samplers(): Promise<string[]> {
    return this.remembered('samplers', async () => {
      const body = await this.call('GET', '/sdapi/v1/samplers', undefined, AbortSignal.timeout(30_000));
      return parseOrUnavailable(NamesResponse, body, 'sampler list').map((s) => s.name);
    });
  }

  schedulers(): Promise<string[] | undefined> {
    // Absent on an SD WebUI from before schedulers were a setting of their own (A1111 1.9).
    return this.remembered('schedulers', async () => {
      const body = await this.getUnlessAbsent('/sdapi/v1/schedulers');
      if (body === undefined) return undefined;
      const list = parseOrUnavailable(NamesResponse, body, 'scheduler list');
      return [...new Set(list.flatMap((s) => [s.name, ...(s.label ? [s.label] : [])]))];
    });
  }

  upscalers(): Promise<string[]> {
    return this.remembered('upscalers', async () => {
      const timeout = AbortSignal.timeout(30_000);
      const [upscalers, latent] = await Promise.all([
        this.call('GET', '/sdapi/v1/upscalers', undefined, timeout),
        this.call('GET', '/sdapi/v1/latent-upscale-modes', undefined, timeout),
      ]);
      return [
        ...parseOrUnavailable(NamesResponse, upscalers, 'upscaler list').map((u) => u.name),
        ...parseOrUnavailable(NamesResponse, latent, 'latent upscale mode list').map((m) => m.name),
      ];
    });
  }

  adetailerModels(): Promise<string[] | undefined> {
    return this.remembered('adetailer', async () => {
      const body = await this.getUnlessAbsent('/adetailer/v1/ad_model');
      return body === undefined
        ? undefined
        : parseOrUnavailable(AdetailerModelsResponse, body, 'ADetailer model list').ad_model;
    });
  }

  controlNetModels(): Promise<string[] | undefined> {
    return this.remembered('controlnet', async () => {
      const body = await this.getUnlessAbsent('/controlnet/model_list');
      return body === undefined
        ? undefined
        : parseOrUnavailable(ControlNetModelsResponse, body, 'ControlNet model list').model_list;
    });
  }

  /** One answer per NAME_LISTS_MS, shared by the calls that ask meanwhile; a failure is not kept. */
  private remembered<T>(name: string, load: () => Promise<T>): Promise<T> {
    const kept = this.lists.get(name);
    if (kept && Date.now() - kept.at < NAME_LISTS_MS) return kept.answer as Promise<T>;
    const answer = load();
    this.lists.set(name, { at: Date.now(), answer });
    answer.catch(() => {
      if (this.lists.get(name)?.answer === answer) this.lists.delete(name);
    });
    return answer;
  }

  /** A GET whose route a host may lack (an older SD WebUI, an extension not installed): 404 is undefined. */
  private async getUnlessAbsent(path: string): Promise<unknown> {
    try {
      return await this.call('GET', path, undefined, AbortSignal.timeout(30_000));
    } catch (error) {
      if (error instanceof SdWebUiRejectedError && / answered 404:/.test(error.message)) return undefined;
      throw error;
    }
  }

  async interrupt(): Promise<void> {
    await this.call('POST', '/sdapi/v1/interrupt', {}, AbortSignal.timeout(10_000));
  }

  private async call(method: string, path: string, payload: unknown, signal?: AbortSignal): Promise<unknown> {
    const response = await this.send(method, path, payload, signal);
    const text = await readText(response, method, path);
    const body = safeJson(text);
    if (body === undefined) throw new SdWebUiUnavailableError(`${method} ${path} answered malformed JSON`);
    return body;
  }

  /** The response of a call that succeeded, its body unread; a failure sorted into retry or not. */
  private async send(
    method: string,
    path: string,
    payload: unknown,
    signal?: AbortSignal,
  ): Promise<Response> {
    let response: Response;
    try {
      response = await fetch(`${this.host.baseUrl}${path}`, {
        method,
        headers: { 'content-type': 'application/json', accept: 'application/json', ...this.host.headers },
        body: payload === undefined ? undefined : JSON.stringify(payload),
        signal,
      });
    } catch (error) {
      throw new SdWebUiUnavailableError(`${method} ${path} failed: ${reasonOf(error)}`, { cause: error });
    }
    if (GATEWAY_GAVE_UP.has(response.status)) {
      const text = await readText(response, method, path);
      throw new SdWebUiUnavailableError(
        `${method} ${path} answered ${response.status} from a tunnel or proxy in front of SD WebUI, which gave up on the request (the host may still be running it): ${describe(text)}`,
        { mayStillRun: true },
      );
    }
    if (response.status >= 500 || response.status === 408 || response.status === 429) {
      const text = await readText(response, method, path);
      throw new SdWebUiUnavailableError(`${method} ${path} answered ${response.status}: ${describe(text)}`);
    }
    if (response.status >= 400) {
      const text = await readText(response, method, path);
      throw new SdWebUiRejectedError(`${method} ${path} answered ${response.status}: ${describe(text)}`);
    }
    return response;
  }
}

async function readText(response: Response, method: string, path: string): Promise<string> {
  try {
    return await response.text();
  } catch (error) {
    throw new SdWebUiUnavailableError(`${method} ${path} failed: ${reasonOf(error)}`, { cause: error });
  }
}

const reasonOf = (error: unknown): string =>
  error instanceof Error ? `${error.name}: ${error.message}` : String(error);

async function* emptyBody(): AsyncIterable<Uint8Array> {}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function parseOrUnavailable<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (!result.success)
    throw new SdWebUiUnavailableError(`Unexpected ${what}: ${z.prettifyError(result.error)}`);
  return result.data;
}

/** The useful part of an SD WebUI error body: a 422's field list, or its detail/errors text. */
function describe(text: string): string {
  const body = safeJson(text) as { detail?: unknown; errors?: unknown; message?: unknown } | undefined;
  if (body && Array.isArray(body.detail)) {
    return body.detail
      .map((d: { loc?: unknown[]; msg?: string }) => `${(d.loc ?? []).join('.')}: ${d.msg ?? ''}`)
      .join('; ');
  }
  const detail = body?.detail || body?.errors || body?.message;
  return String(detail || text).slice(0, 500);
}
