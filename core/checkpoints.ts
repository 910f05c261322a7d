import type { Checkpoint } from './ports.ts';

/**
 * The checkpoint a name means, matched the way SD WebUI accepts names: title, model name, file
 * name or its stem, short hash or sha256.
 */
export function findCheckpoint(wanted: string, available: readonly Checkpoint[]): Checkpoint | undefined {
  const w = wanted.toLowerCase();
  const stem = (f?: string) =>
    f
      ?.split(/[\\/]/)
      .pop()
      ?.replace(/\.[^.]+$/, '')
      .toLowerCase();
  return available.find(
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
}

/** A GPU host's checkpoint list as a worker last read it. */
export interface HostCheckpoints {
  hostId: string;
  checkpoints: Checkpoint[];
  /** Epoch ms of the read. */
  readAt: number;
}

/** Where workers leave each host's checkpoint list for the gateway, which may not reach the hosts. */
export interface CheckpointCatalog {
  /** Whether this host's list is worth reading again (none recorded lately by this worker). */
  due(hostId: string): boolean;
  record(hostId: string, checkpoints: readonly Checkpoint[]): Promise<void>;
  read(): Promise<HostCheckpoints[]>;
}

/** A list older than this is not trusted to refuse a start: a checkpoint may have been added since. */
export const CHECKPOINT_LIST_TRUSTED_MS = 60 * 60 * 1000;

/**
 * Why a start naming `wanted` can never run, from the hosts' recent lists; undefined when a host
 * has it or no recent list is known (the worker still checks the host itself).
 */
export function checkpointRefusal(
  wanted: string,
  lists: readonly HostCheckpoints[],
  now: number,
): string | undefined {
  const recent = lists.filter((l) => now - l.readAt <= CHECKPOINT_LIST_TRUSTED_MS);
  if (recent.length === 0 || recent.some((l) => findCheckpoint(wanted, l.checkpoints))) return undefined;
  const titles = [...new Set(recent.flatMap((l) => l.checkpoints.map((c) => c.title)))].sort();
  const asOf = new Date(Math.max(...recent.map((l) => l.readAt))).toISOString();
  return `checkpoint: "${wanted}" is not on the GPU hosts (their lists as of ${asOf}); they have: ${titles.join(', ') || 'none'}. Name one by title, file name or hash`;
}
