/**
 * Where image `index` of `iteration` lives: a pure function of its identity, so a retried
 * iteration overwrites its own objects instead of adding new ones.
 */
export function imageKey(jobId: string, iteration: number, index: number): string {
  return `jobs/${jobId}/${String(iteration).padStart(3, '0')}-${index}.png`;
}

export const jobImagePrefix = (jobId: string): string => `jobs/${jobId}/`;
