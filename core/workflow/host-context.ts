import { SdWebUiRejectedError } from '../errors.ts';
import type { GenerationParams } from '../params/generation.ts';
import type { Checkpoint, ImageFetcher, ImageStore, SdWebUi } from '../ports.ts';
import type { HostContext } from '../txt2img-payload.ts';

export interface HostContextDeps {
  sd: SdWebUi;
  images: ImageStore;
  fetcher: ImageFetcher;
}

/**
 * Finds a checkpoint the way SD WebUI accepts names: title, model name, file name or stem, or
 * hash. override_settings silently ignores an unknown one, so we refuse it instead.
 */
export function resolveCheckpoint(wanted: string, available: Checkpoint[]): string {
  const w = wanted.toLowerCase();
  const stem = (f?: string) =>
    f
      ?.split(/[\\/]/)
      .pop()
      ?.replace(/\.[^.]+$/, '')
      .toLowerCase();
  const found = available.find(
    (c) =>
      c.title.toLowerCase() === w ||
      c.model_name.toLowerCase() === w ||
      c.title.toLowerCase().startsWith(`${w} [`) ||
      c.title.toLowerCase().split(' [')[0] === w ||
      stem(c.filename) === w ||
      stem(c.title.split(' [')[0]) === w ||
      c.hash?.toLowerCase() === w ||
      c.sha256?.toLowerCase() === w,
  );
  if (!found) {
    const names = available.map((c) => c.title).join(', ');
    throw new SdWebUiRejectedError(`checkpoint "${wanted}" is not on the GPU host; it has: ${names}`);
  }
  return found.title;
}

/** What the payload needs from outside the job: inlined control images and host-specific names. */
export async function prepareHostContext(
  params: GenerationParams,
  deps: HostContextDeps,
): Promise<{ params: GenerationParams; host: HostContext }> {
  const needsScripts = [
    params.enable_dynamic_prompts,
    params.combinatorial_generation,
    params.magic_prompt,
    params.use_fixed_seed,
    params.max_generations,
  ].some((v) => v !== undefined);
  const [checkpoint, titles, controlNetImages] = await Promise.all([
    params.checkpoint
      ? deps.sd.checkpoints().then((list) => resolveCheckpoint(params.checkpoint as string, list))
      : undefined,
    needsScripts ? deps.sd.scriptTitles() : undefined,
    Promise.all(
      (params.controlnet ?? []).map(async (unit) => {
        const bytes =
          'image_key' in unit
            ? await deps.images.get(unit.image_key)
            : 'image_url' in unit
              ? await deps.fetcher.fetch(unit.image_url)
              : Buffer.from(unit.image.split(',')[1] ?? '', 'base64');
        return Buffer.from(bytes).toString('base64');
      }),
    ),
  ]);
  const dynamicPromptsTitle = titles?.find((t) => t.toLowerCase().startsWith('dynamic prompts'));
  return {
    params: checkpoint ? { ...params, checkpoint } : params,
    host: { controlNetImages, dynamicPromptsTitle },
  };
}
