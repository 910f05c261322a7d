import { imageSize } from 'image-size';
import { InvalidRequestError } from '../core/errors.ts';
import { JOB_ID_PATTERN } from '../core/job-id.ts';
import type { GenerationParams } from '../core/params/generation.ts';
import type { ToolContext } from './deps.ts';

/** Sides a control image may have: SD WebUI resizes it to the job's size, within reason. */
const MAX_SIDE = 8192;
const DATA_URL = /^data:image\/(png|jpeg|webp);base64,(.+)$/;
/** What image-size calls each type the data URL may declare. */
const SIZE_TYPE = { png: 'png', jpeg: 'jpg', webp: 'webp' } as const;

/** Why a URL is refused where the workers cannot reach the internet (README, "VPC mode"). */
export const NO_ROUTE_OUT =
  'the GPU workers run in a VPC with no route to the internet (deployed without vpcInternetAccess=true), ' +
  'so they cannot fetch a URL; send the image as image (a data URL) or as image_key';

/**
 * Refuses at the start a control image that could never be used, naming the unit and the field:
 * a URL the workers could not fetch (or any URL, where they have no route out), a key that is not exactly one of the caller's own objects,
 * a data URL whose bytes are not the image it says.
 */
export async function checkControlImages(ctx: ToolContext, params: GenerationParams): Promise<void> {
  for (const [i, unit] of (params.controlnet ?? []).entries()) {
    const field = `controlnet.${i}`;
    if ('image_url' in unit) {
      if (ctx.deps.settings.workersReachInternet === false) {
        throw new InvalidRequestError(`${field}.image_url: ${NO_ROUTE_OUT}`);
      }
      try {
        await ctx.deps.checkImageUrl?.(unit.image_url);
      } catch (error) {
        throw new InvalidRequestError(`${field}.image_url: ${(error as Error).message}`);
      }
    } else if ('image_key' in unit) {
      await checkImageKey(ctx, unit.image_key, `${field}.image_key`);
    } else if ('image' in unit) {
      checkDataUrl(unit.image, `${field}.image`);
    }
  }
}

const OWN_KEY = new RegExp(
  `^(?:jobs|inputs)/(${JOB_ID_PATTERN.source.replace(/^\^|\$$/g, '')})/[A-Za-z0-9_-][A-Za-z0-9_.-]*$`,
);

async function checkImageKey(ctx: ToolContext, key: string, field: string): Promise<void> {
  const match = OWN_KEY.exec(key);
  const owner = match && !key.includes('..') ? await ctx.deps.jobs.get(match[1] as string) : undefined;
  if (!owner || owner.owner !== ctx.caller.id || !(await ctx.deps.images.exists(key))) {
    throw new InvalidRequestError(`${field}: not an image or input of one of your jobs`);
  }
}

function checkDataUrl(url: string, field: string): void {
  const [, declared, base64] = DATA_URL.exec(url) ?? [];
  const bytes = Buffer.from(base64 ?? '', 'base64');
  let size: { type?: string; width: number; height: number } | undefined;
  try {
    size = imageSize(bytes);
  } catch {
    size = undefined;
  }
  const expected = SIZE_TYPE[declared as keyof typeof SIZE_TYPE];
  if (!size || size.type !== expected) {
    throw new InvalidRequestError(`${field}: the bytes are not a ${declared} image`);
  }
  if (size.width < 1 || size.height < 1 || size.width > MAX_SIDE || size.height > MAX_SIDE) {
    throw new InvalidRequestError(
      `${field}: ${size.width}x${size.height}; a control image may be at most ${MAX_SIDE}x${MAX_SIDE}`,
    );
  }
}
