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
