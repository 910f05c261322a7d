import { ControlImageFetchError, SdWebUiRejectedError } from '../errors.ts';
import { inputKey } from '../image-key.ts';
import { expiryFrom, type JobRecord } from '../job.ts';
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
  job: JobRecord,
  deps: HostContextDeps,
): Promise<{ params: GenerationParams; host: HostContext }> {
  const { params } = job;
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
      (params.controlnet ?? []).map(async (unit, i) => {
        const bytes =
          'image_key' in unit
            ? await deps.images.get(unit.image_key)
            : 'image_url' in unit
              ? await fetchOncePerJob(job, i, unit.image_url, deps)
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

/**
 * A control image given by URL, fetched by the first call that needs it and kept with the job's
 * inputs: the job's other calls read the copy, not the caller's server (and a server that
 * changes the image meanwhile cannot give one job two). A fetch that failed for good is kept too,
 * so each later call fails at once with its reason rather than asking again.
 */
async function fetchOncePerJob(job: JobRecord, unit: number, url: string, deps: HostContextDeps) {
  const key = inputKey(job.job_id, `controlnet-${unit}-fetched`);
  const failedKey = `${key}.failed`;
  if (await deps.images.exists(key)) return deps.images.get(key);
  if (await deps.images.exists(failedKey)) {
    throw new ControlImageFetchError(new TextDecoder().decode(await deps.images.get(failedKey)), false);
  }
  const expiresAt = expiryFrom(job, Date.now());
  try {
    const bytes = await deps.fetcher.fetch(url);
    await deps.images.put({ key, body: bytes, contentType: 'application/octet-stream', expiresAt });
    return bytes;
  } catch (error) {
    if (error instanceof ControlImageFetchError && !error.transient) {
      const body = new TextEncoder().encode(error.message);
      await deps.images.put({ key: failedKey, body, contentType: 'text/plain', expiresAt });
    }
    throw error;
  }
}
