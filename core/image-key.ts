/**
 * Where image `index` of `iteration` lives: a pure function of its identity, so a retried
 * iteration overwrites its own objects instead of adding new ones.
 */
export function imageKey(jobId: string, iteration: number, index: number): string {
  return `${IMAGE_PREFIX}${jobId}/${String(iteration).padStart(3, '0')}-${index}.png`;
}

/** Generated images live under jobs/, callers' inline inputs under inputs/; both expire with their job. */
export const IMAGE_PREFIX = 'jobs/';
export const INPUT_PREFIX = 'inputs/';

export const inputKey = (jobId: string, name: string): string => `${INPUT_PREFIX}${jobId}/${name}`;

/** A job's contact sheet: outside jobs/ so that prefix holds exactly the generated images. */
export const SHEET_PREFIX = 'sheets/';
export const contactSheetKey = (jobId: string): string => `${SHEET_PREFIX}${jobId}.png`;
