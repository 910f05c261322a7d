import { IMAGE_FORMATS, type ImageFormat } from './image-format/formats.ts';

/**
 * Where image `index` of `iteration` lives: a pure function of its identity and the format its
 * bytes are in, so a retried iteration overwrites its own objects instead of adding new ones.
 */
export function imageKey(jobId: string, iteration: number, index: number, format: ImageFormat): string {
  return `${IMAGE_PREFIX}${jobId}/${String(iteration).padStart(3, '0')}-${index}.${IMAGE_FORMATS[format].extension}`;
}

/** Generated images live under jobs/, callers' inline inputs under inputs/; both expire with their job. */
export const IMAGE_PREFIX = 'jobs/';
export const INPUT_PREFIX = 'inputs/';

export const inputKey = (jobId: string, name: string): string => `${INPUT_PREFIX}${jobId}/${name}`;

/** A job's contact sheet: outside jobs/ so that prefix holds exactly the generated images. */
export const SHEET_PREFIX = 'sheets/';
export const contactSheetKey = (jobId: string): string =>
  `${SHEET_PREFIX}${jobId}.${IMAGE_FORMATS.png.extension}`;

/**
 * A downloaded image's file name, `003-1-seed1234.jpg`: sorts by iteration and index, says which
 * seed remakes it, and keeps its key's extension (the format its bytes are in).
 */
export const downloadName = (f: { iteration: number; index: number; seed: number; key: string }): string =>
  `${String(f.iteration).padStart(3, '0')}-${f.index}-seed${f.seed}${f.key.slice(f.key.lastIndexOf('.'))}`;
