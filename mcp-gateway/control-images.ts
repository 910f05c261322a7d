import { InvalidRequestError } from '../core/errors.ts';
import { inputKey } from '../core/image-key.ts';
import { MAX_DATA_URL_BYTES } from '../core/params/controlnet.ts';
import type { GenerationParams } from '../core/params/generation.ts';
import type { ImageStore } from '../core/ports.ts';

const DATA_URL = /^data:image\/(png|jpeg|webp);base64,(.+)$/;

/**
 * Moves data-URL control images into the image bucket and leaves their keys in the job, so a
 * job item stays small and no image rides through the workflow's state.
 */
export async function storeInlineControlImages(
  params: GenerationParams,
  jobId: string,
  images: ImageStore,
  expiresAt: number,
): Promise<GenerationParams> {
  if (!params.controlnet?.some((u) => 'image' in u)) return params;
  const decoded = params.controlnet.map((unit, i) => {
    if (!('image' in unit)) return undefined;
    const [, type, base64] = DATA_URL.exec(unit.image) ?? [];
    const body = Buffer.from(base64 ?? '', 'base64');
    // Every image is checked before the first is stored: a refused start leaves nothing behind.
    if (body.length > MAX_DATA_URL_BYTES) {
      throw new InvalidRequestError(
        `controlnet.${i}.image: ${body.length} bytes; a data URL may carry at most ${MAX_DATA_URL_BYTES} (use image_url for larger ones)`,
      );
    }
    return { type: type as string, body };
  });
  const controlnet = await Promise.all(
    params.controlnet.map(async (unit, i) => {
      const image = decoded[i];
      if (!image || !('image' in unit)) return unit;
      const key = inputKey(jobId, `controlnet-${i}.${image.type === 'jpeg' ? 'jpg' : image.type}`);
      await images.put({ key, body: image.body, contentType: `image/${image.type}`, expiresAt });
      const { image: _inline, ...rest } = unit;
      return { ...rest, image_key: key };
    }),
  );
  return { ...params, controlnet };
}
