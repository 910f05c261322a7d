import { IMAGE_FORMATS } from '../../core/image-format/formats.ts';
import { identifyImage } from '../../core/image-format/identify.ts';
import type { ProgressResponse } from '../../local/simulator/engine.ts';

export type { ProgressState } from '../../local/simulator/engine.ts';

/** Plain HTTP helpers shared by the contract suite, the fixture recorder and the fixture-shape test. */

export interface Exchange {
  method: 'GET' | 'POST';
  path: string;
  /** A JSON value, or a string sent as it is (e.g. a body that is not JSON). */
  body?: unknown;
  /** Default application/json when there is a body. */
  contentType?: string;
}

export interface Answer {
  status: number;
  /** Parsed JSON, or the raw text when the answer was not JSON. */
  body: unknown;
  ms: number;
}

export async function send(baseUrl: string, x: Exchange, signal?: AbortSignal): Promise<Answer> {
  const started = performance.now();
  const headers: Record<string, string> = {};
  let payload: string | undefined;
  if (x.body !== undefined) {
    headers['content-type'] = x.contentType ?? 'application/json';
    payload = typeof x.body === 'string' ? x.body : JSON.stringify(x.body);
  }
  const res = await fetch(`${baseUrl}${x.path}`, { method: x.method, headers, body: payload, signal });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body, ms: performance.now() - started };
}

/** The /progress answer; the simulator's types follow the real server's. */
export type Progress = ProgressResponse;

export const progressExchange: Exchange = {
  method: 'GET',
  path: '/sdapi/v1/progress?skip_current_image=true',
};

export async function getProgress(baseUrl: string): Promise<Progress> {
  const answer = await send(baseUrl, progressExchange);
  if (answer.status !== 200) throw new Error(`GET /progress answered ${answer.status}`);
  return answer.body as Progress;
}

/**
 * Polls /progress every `everyMs` until `check` holds, for at most `withinMs`; returns every
 * state seen (the last one satisfied `check`). Throws with the last state when it never does.
 */
export async function pollProgress(
  baseUrl: string,
  check: (p: Progress) => boolean,
  { everyMs, withinMs }: { everyMs: number; withinMs: number },
): Promise<Progress[]> {
  const seen: Progress[] = [];
  const deadline = performance.now() + withinMs;
  for (;;) {
    const p = await getProgress(baseUrl);
    seen.push(p);
    if (check(p)) return seen;
    if (performance.now() > deadline) {
      throw new Error(
        `/progress did not reach the awaited state within ${withinMs} ms; last: ${JSON.stringify(p)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** A base64 image replaced by a marker that keeps its format and size, so fixtures stay small. */
export function imageMarker(base64: string): string {
  try {
    const image = identifyImage(Buffer.from(base64, 'base64'));
    return `<base64 ${IMAGE_FORMATS[image.format].label} ${image.width}x${image.height}>`;
  } catch {
    return `<base64, ${base64.length} chars, not a PNG, JPEG or WebP>`;
  }
}

/** The answer with `images` (txt2img) and `current_image` (progress) replaced by markers. */
export function stripImages(body: unknown): unknown {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return body;
  const out: Record<string, unknown> = { ...body };
  if (Array.isArray(out.images)) out.images = out.images.map((i) => imageMarker(String(i)));
  if (typeof out.current_image === 'string') out.current_image = imageMarker(out.current_image);
  return out;
}
