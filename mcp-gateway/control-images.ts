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
  const controlnet = await Promise.all(
    params.controlnet.map(async (unit, i) => {
      if (!('image' in unit)) return unit;
      const [, type, base64] = DATA_URL.exec(unit.image) ?? [];
      const body = Buffer.from(base64 ?? '', 'base64');
      if (body.length > MAX_DATA_URL_BYTES)
        throw new Error(`controlnet.${i}.image is larger than the data-URL cap`);
      const key = inputKey(jobId, `controlnet-${i}.${type === 'jpeg' ? 'jpg' : type}`);
      await images.put({ key, body, contentType: `image/${type}`, expiresAt });
      const { image: _inline, ...rest } = unit;
      return { ...rest, image_key: key };
    }),
  );
  return { ...params, controlnet };
}
