import type { TaskStateName } from './definition.ts';

/** Memory (MB) and time-out (s) of a Task state's Lambda function. */
export interface FunctionSizing {
  memoryMb: number;
  timeoutSeconds: number;
}

const WAIT_SIZING: FunctionSizing = { memoryMb: 256, timeoutSeconds: 30 };

/**
 * Memory and time-out per task: the one home CDK deploys (cdk/constructs/workflow-tasks.ts), the
 * embedded orchestrator enforces (a handler past its time-out fails with Sandbox.Timedout, as
 * Lambda's does) and the benchmark prices. Each time-out is below its state's TimeoutSeconds
 * (definition.asl.json), so a stuck call ends as the function's own error, not a state time-out.
 */
export const FUNCTION_SIZING: Record<TaskStateName, FunctionSizing> = {
  // Waits for the GPU for most of its life (the state allows 900 s; a run pauses before a call
  // could outlive that), so its memory is billed for GPU time: keep it small. Each image of SD
  // WebUI's answer is decoded piece by piece, never as a string, and goes on to the image store
  // at once, so the peak is the bundle (~87 MiB) plus about two images on their way, not a call's
  // PNGs (up to ~56 MiB for 8 at 2048x2048): `npm run bench:memory` measures the largest answer's
  // peak against this memory, which must be at least 1.5x it.
  'Generate images': { memoryMb: 256, timeoutSeconds: 900 },
  // Called by the callback tasks with their token (both waits are one function): a GetItem, the
  // queue writes, a read of the line's head, maybe one of the slots and one SendTaskSuccess, then
  // it returns; the wait itself bills nothing.
  'Wait for the GPU pool': WAIT_SIZING,
  'Wait for a GPU slot': WAIT_SIZING,
  // A GetItem, then a PutItem and an UpdateItem per iteration the runner left (100 at most).
  'Record failed iterations': { memoryMb: 256, timeoutSeconds: 30 },
  // sharp thumbnails up to 800 images, eight at a time, keeping only the thumbnails: 1 GB gives
  // libvips room and CPU; 280 s stays below the state's 300 s.
  'Render contact sheet': { memoryMb: 1024, timeoutSeconds: 280 },
  'Finalize job': { memoryMb: 256, timeoutSeconds: 30 },
};
