import type { GenerationParams } from './job.ts';
import { dynamicPromptsScript } from './params/dynamic-prompts.ts';

/**
 * A GPU host behind a tunnel or proxy that ends any request after a while (Cloudflare's: 100 s,
 * then HTTP 524). A request's time there is its wait in SD WebUI's queue plus its own sampling, so
 * with depth 2 a queued call's request lasts about two calls. These rules keep every request of a
 * job under the host's limit: two calls to the host at once only while two fit, and a batch split
 * into smaller calls (the same images, by seed) when one does not.
 */

/** Share of the limit a request is planned to fill: rates drift and polls lag, the limit does not. */
export const REQUEST_LIMIT_SHARE = 0.8;

/** How a job's calls go to one host. */
export interface CallShape {
  /** Calls of the job on the host at once: its configured depth, or 1 when two would not fit. */
  depth: number;
  /** Images per SD WebUI call: the job's batch_size, or fewer when one call would not fit. */
  batchPerCall: number;
}

export interface CallShapeInput {
  /** Whether the job's batch may be split (see splittable). */
  splittable: boolean;
  /** The host's request limit in seconds; undefined = none. */
  limitSeconds?: number;
  /** The host's configured depth. */
  depth: number;
  batchSize: number;
  /** Expected seconds of one call making `batch` images on this host (estimate.ts, callSeconds). */
  secondsFor: (batch: number) => number;
}

/**
 * The depth and the images per call that keep each request under the host's limit. Depth is given
 * up before the batch is split: a split call changes pixels slightly (see splitCalls), a lower depth
 * only costs the GPU the upload's time between calls. A single image that cannot fit is still sent
 * alone: nothing smaller exists, and the tunnel's time-out is then handled as a failed call; so is a
 * batch that may not be split.
 */
export function callShape(input: CallShapeInput): CallShape {
  const { limitSeconds, depth, batchSize, secondsFor } = input;
  if (limitSeconds === undefined || limitSeconds <= 0) return { depth, batchPerCall: batchSize };
  const budget = limitSeconds * REQUEST_LIMIT_SHARE;
  if (depth * secondsFor(batchSize) <= budget) return { depth, batchPerCall: batchSize };
  let fits = batchSize;
  while (input.splittable && fits > 1 && secondsFor(fits) > budget) fits--;
  // As few calls as fit, evenly filled: 8 images of which 6 fit go as 4 + 4, not 6 + 2.
  return { depth: 1, batchPerCall: Math.ceil(batchSize / Math.ceil(batchSize / fits)) };
}

/** One SD WebUI call of a split iteration: images `first` .. `first + count - 1` of its batch. */
export interface CallPart {
  first: number;
  count: number;
}

/**
 * An iteration's batch of `batchSize` images as calls of at most `batchPerCall`, in order. Each
 * part is sent with the seed of its first image (payload: partPayload), so every image keeps its
 * seed, its subseed and its index. Not bit for bit: SD WebUI samples a batch as one tensor, and
 * on the kit's A1111 1.8 each image of a batch-2 call differed from the single call with its seed
 * by at most 1 level in 1 of 4096 pixels (float summation order).
 */
export function splitCalls(batchSize: number, batchPerCall: number): CallPart[] {
  const per = Math.max(1, Math.min(batchSize, batchPerCall));
  const parts: CallPart[] = [];
  for (let first = 0; first < batchSize; first += per) {
    parts.push({ first, count: Math.min(per, batchSize - first) });
  }
  return parts;
}

/**
 * Whether a batch may be made in smaller calls with the same images. Not with Dynamic Prompts: the
 * extension draws the prompts of a whole call together, so a smaller call gives its images others.
 */
export const splittable = (params: GenerationParams): boolean => dynamicPromptsScript(params) === undefined;
