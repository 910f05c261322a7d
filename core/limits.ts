/** Hard bounds of one job; the schemas and the planner read them from here. */
export const LIMITS = {
  batchSize: { min: 1, max: 8 },
  nIter: { min: 1, max: 100 },
  side: { min: 64, max: 2048, multipleOf: 8 },
  steps: { min: 1, max: 150 },
  cfgScale: { min: 1, max: 30 },
  seed: { min: -1, max: 4294967294 },
  promptChars: 8000,
  /**
   * Pixels one SD WebUI call may return (batch_size x output size, hires included): 8 images at
   * 2048x2048. The generate task's memory is sized for that answer.
   */
  pixelsPerCall: 8 * 2048 * 2048,
  nameChars: 128,
} as const;
