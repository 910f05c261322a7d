import { generateIteration } from '../core/workflow/generate-iteration.ts';
import { IterationTaskInput } from '../core/workflow/task-io.ts';
import type { WorkerDeps } from './worker-deps.ts';

export const createGenerateImagesHandler = (deps: WorkerDeps) => (event: unknown) =>
  generateIteration(IterationTaskInput.parse(event), deps);
