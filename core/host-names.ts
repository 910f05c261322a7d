import { z } from 'zod';
import { findCheckpoint } from './checkpoints.ts';
import type { GenerationParams } from './params/generation.ts';
import { closestNames } from './params/unknown-name.ts';
import { Checkpoint, type SdWebUi } from './ports.ts';

/**
 * The names a GPU host offers, one list per kind. A list left out is unknown (its endpoint is
 * missing, as /sdapi/v1/schedulers on A1111 1.8 or an extension's on a host without it, or its
 * read failed): never taken for an empty list, so it refuses nothing.
 */
export const HostNames = z.object({
  checkpoints: z.array(Checkpoint).optional(),
  samplers: z.array(z.string()).optional(),
  /** Names and labels ("karras", "Karras"). */
  schedulers: z.array(z.string()).optional(),
  /** /sdapi/v1/upscalers names and the latent upscale modes, both valid as hr_upscaler. */
  upscalers: z.array(z.string()).optional(),
  adetailer: z.array(z.string()).optional(),
  controlnet: z.array(z.string()).optional(),
});
export type HostNames = z.infer<typeof HostNames>;
export type NameKind = keyof HostNames;
export const NAME_KINDS = Object.keys(HostNames.shape) as NameKind[];

/** A GPU host's names as a worker last read them. */
export interface HostNamesRead {
  hostId: string;
  names: HostNames;
  /** Epoch ms of the read. */
  readAt: number;
}

/** Where workers leave each host's names for the gateway, which may not reach the hosts. */
export interface HostNameCatalog {
  /** Whether this host's lists are worth reading again (none recorded lately by this worker). */
  due(hostId: string): boolean;
  record(hostId: string, names: HostNames): Promise<void>;
  read(): Promise<HostNamesRead[]>;
}

/** A list older than this is not trusted to refuse a start: a name may have been added since. */
export const HOST_NAMES_TRUSTED_MS = 60 * 60 * 1000;

/** A name a job needs the host to have, and the argument that carries it. */
export interface WantedName {
  field: string;
  kind: NameKind;
  name: string;
}

/** The names in these parameters that must exist on the host (hires ones only with hires on). */
export function wantedNames(params: Partial<GenerationParams>): WantedName[] {
  const wanted: WantedName[] = [];
  const add = (field: string, kind: NameKind, name: string | undefined) => {
    if (name !== undefined) wanted.push({ field, kind, name });
  };
  add('checkpoint', 'checkpoints', params.checkpoint);
  add('sampler_name', 'samplers', params.sampler_name);
  add('scheduler', 'schedulers', params.scheduler);
  if (params.enable_hr) {
    add('hr_upscaler', 'upscalers', params.hr_upscaler);
    add('hr_sampler_name', 'samplers', params.hr_sampler_name);
  }
  // "None" switches a tab or unit's model off; it is on no list.
  params.adetailer?.forEach((m, i) => {
    if (m.model !== 'None') add(`adetailer[${i}].model`, 'adetailer', m.model);
  });
  params.controlnet?.forEach((u, i) => {
    if (u.model && u.model.toLowerCase() !== 'none') add(`controlnet[${i}].model`, 'controlnet', u.model);
  });
  return wanted;
}

/**
 * Whether the host takes `name` as SD WebUI matches it; undefined when the list is unknown.
 * Samplers, schedulers, upscalers and ADetailer models are exact (A1111 looks them up in a dict;
 * an unknown one is substituted, skipped or a 500); a sampler may carry a scheduler's suffix
 * ("DPM++ 2M Karras") where the host has schedulers; ControlNet takes a case-insensitive part of
 * a listed name ("control_v11p_sd15_canny" for "control_v11p_sd15_canny [d14c016b]").
 */
export function hostHas(kind: NameKind, name: string, names: HostNames): boolean | undefined {
  if (kind === 'checkpoints')
    return names.checkpoints && findCheckpoint(name, names.checkpoints) !== undefined;
  const list = names[kind];
  if (!list) return undefined;
  if (list.includes(name)) return true;
  if (kind === 'samplers' && names.schedulers) {
    const suffix = names.schedulers.find((s) => name.endsWith(` ${s}`));
    return suffix !== undefined && list.includes(name.slice(0, -(suffix.length + 1)));
  }
  if (kind === 'controlnet') return list.some((n) => n.toLowerCase().includes(name.toLowerCase()));
  return false;
}

/** What a host offers of one kind, as a caller would name it. */
function offered(kind: NameKind, names: HostNames): string[] {
  if (kind === 'checkpoints') return (names.checkpoints ?? []).map((c) => c.title);
  return names[kind] ?? [];
}

/** How many names a refusal offers: enough to spot the one meant, few enough to read. */
const OFFERED = 5;

/** The one wording of a refusal: the field, the name, where it is missing and the closest names. */
function refusal(w: WantedName, where: string, has: string, known: string[]): string {
  const closest = closestNames(w.name, known, OFFERED);
  const more = known.length > closest.length ? ` (and ${known.length - closest.length} more)` : '';
  const hint = w.kind === 'checkpoints' ? '. Name one by title, file name or hash' : '';
  return `${w.field}: "${w.name}" is not on ${where}; the closest ${has}: ${closest.join(', ') || 'none'}${more}${hint}`;
}

/**
 * Why a start can never run, from the hosts' recent lists: a name that no recent list of its
 * kind has, while every recent host's list of that kind is known. Undefined when it may run (the
 * worker still checks the host itself).
 */
export function startRefusal(
  params: Partial<GenerationParams>,
  reads: readonly HostNamesRead[],
  now: number,
): string | undefined {
  const recent = reads.filter((r) => now - r.readAt <= HOST_NAMES_TRUSTED_MS);
  if (recent.length === 0) return undefined;
  const asOf = new Date(Math.max(...recent.map((r) => r.readAt))).toISOString();
  for (const w of wantedNames(params)) {
    const answers = recent.map((r) => hostHas(w.kind, w.name, r.names));
    if (answers.some((a) => a !== false)) continue;
    const known = [...new Set(recent.flatMap((r) => offered(w.kind, r.names)))];
    return refusal(w, `the GPU hosts (their lists as of ${asOf})`, 'they have', known);
  }
  return undefined;
}

/** Why this host cannot run these names, from its own lists; undefined when it can (or cannot tell). */
export function hostRefusal(
  wanted: readonly WantedName[],
  names: HostNames,
  hostId?: string,
): string | undefined {
  const where = hostId ? `the GPU host ${hostId}` : 'the GPU host';
  const missing = wanted.find((w) => hostHas(w.kind, w.name, names) === false);
  return missing && refusal(missing, where, 'it has', offered(missing.kind, names));
}

const READERS: Record<NameKind, (sd: SdWebUi) => Promise<HostNames[NameKind]>> = {
  checkpoints: (sd) => sd.checkpoints(),
  samplers: (sd) => sd.samplers(),
  schedulers: (sd) => sd.schedulers(),
  upscalers: (sd) => sd.upscalers(),
  adetailer: (sd) => sd.adetailerModels(),
  controlnet: (sd) => sd.controlNetModels(),
};

/**
 * The host's lists of these kinds, read together. `bestEffort`: a list whose read fails is left
 * out (unknown); otherwise the failure is the caller's.
 */
export async function readHostNames(
  sd: SdWebUi,
  kinds: readonly NameKind[] = NAME_KINDS,
  bestEffort = false,
): Promise<HostNames> {
  const lists = await Promise.all(
    [...new Set(kinds)].map(async (kind) => {
      const read = READERS[kind](sd);
      const list = bestEffort ? await read.catch(() => undefined) : await read;
      return [kind, list] as const;
    }),
  );
  return Object.fromEntries(lists.filter(([, list]) => list !== undefined)) as HostNames;
}
