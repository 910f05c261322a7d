import { recordFailedIteration } from '../core/workflow/record-failed-iteration.ts';
import { FailedIterationInput } from '../core/workflow/task-io.ts';
import type { WorkerDeps } from './worker-deps.ts';

export const createRecordFailedIterationHandler = (deps: WorkerDeps) => (event: unknown) =>
  recordFailedIteration(FailedIterationInput.parse(event), deps);
