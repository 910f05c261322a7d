import { findCheckpoint } from '../checkpoints.ts';
import { ControlImageFetchError, SdWebUiRejectedError } from '../errors.ts';
import { type HostNameCatalog, hostRefusal, readHostNames, wantedNames } from '../host-names.ts';
import { inputKey } from '../image-key.ts';
import { expiryFrom, type JobRecord } from '../job.ts';
import type { GenerationParams } from '../params/generation.ts';
import type { ImageFetcher, ImageStore, SdWebUi } from '../ports.ts';
import type { HostContext } from '../txt2img-payload.ts';

export interface HostContextDeps {
  sd: SdWebUi;
  images: ImageStore;
  fetcher: ImageFetcher;
  /** With the host's id: the host's lists are left there when due. */
  catalog?: HostNameCatalog;
  hostId?: string;
}

/**
 * The names the job needs, checked against this host's lists (a host would substitute, skip or
 * fail on a name it lacks); the checkpoint as this host titles it. Unknown lists check nothing.
 */
async function checkHostNames(params: GenerationParams, deps: HostContextDeps): Promise<string | undefined> {
  const wanted = wantedNames(params);
  const [names] = await Promise.all([
    readHostNames(
      deps.sd,
      wanted.map((w) => w.kind),
    ),
    refreshCatalog(deps),
  ]);
  const refusal = hostRefusal(wanted, names, deps.hostId);
  if (refusal) throw new SdWebUiRejectedError(refusal);
  return params.checkpoint && names.checkpoints
    ? findCheckpoint(params.checkpoint, names.checkpoints)?.title
    : undefined;
}

/** What the payload needs from outside the job: inlined control images and host-specific names. */
export async function prepareHostContext(
  job: JobRecord,
  deps: HostContextDeps,
): Promise<{ params: GenerationParams; host: HostContext; note?: string }> {
  const { params } = job;
  const needsScripts = [
    params.enable_dynamic_prompts,
    params.combinatorial_generation,
    params.magic_prompt,
    params.use_fixed_seed,
    params.max_generations,
  ].some((v) => v !== undefined);
  const [checkpoint, titles, controlNetImages] = await Promise.all([
    checkHostNames(params, deps),
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
  const adapted = await adaptScheduler(checkpoint ? { ...params, checkpoint } : params, deps);
  return {
    params: adapted.params,
    host: { controlNetImages, dynamicPromptsTitle },
    ...(adapted.note ? { note: adapted.note } : {}),
  };
}

/**
 * A scheduler on a host without the setting (A1111 before 1.9 ignores the field): sent as the
 * old combined sampler name when the host has one ("DPM++ 2M" + "Karras"), else left out. The
 * note says what was sent instead, for the job's status.
 */
async function adaptScheduler(
  params: GenerationParams,
  deps: HostContextDeps,
): Promise<{ params: GenerationParams; note?: string }> {
  const { scheduler, sampler_name: sampler } = params;
  if (!scheduler || (await deps.sd.schedulers()) !== undefined) return { params };
  const { scheduler: _dropped, ...rest } = params;
  const host = deps.hostId ? `GPU host ${deps.hostId}` : 'the GPU host';
  if (scheduler.toLowerCase() === 'automatic') return { params: rest };
  const combined = sampler ? `${sampler} ${scheduler}`.toLowerCase() : undefined;
  const legacy = combined ? (await deps.sd.samplers()).find((s) => s.toLowerCase() === combined) : undefined;
  if (legacy) {
    return {
      params: { ...rest, sampler_name: legacy },
      note: `${host} has no scheduler setting (SD WebUI before 1.9): sampler "${legacy}" was sent for sampler "${sampler}" with scheduler "${scheduler}".`,
    };
  }
  return {
    params: rest,
    note: `${host} has no scheduler setting (SD WebUI before 1.9): scheduler "${scheduler}" was not sent; the sampler's own schedule was used.`,
  };
}

/** Keeps the host's lists in the catalog fresh for the gateway's start checks. */
async function refreshCatalog(deps: HostContextDeps): Promise<void> {
  if (deps.catalog && deps.hostId && deps.catalog.due(deps.hostId)) {
    // Best effort: the catalog only lets the gateway refuse sooner; the call does not need it.
    const names = await readHostNames(deps.sd, undefined, true);
    await deps.catalog.record(deps.hostId, names).catch(() => undefined);
  }
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
