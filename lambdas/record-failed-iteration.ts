import { recordFailedRun } from '../core/workflow/record-failed-iteration.ts';
import { FailedRunInput } from '../core/workflow/task-io.ts';
import type { WorkerDeps } from './composition.ts';

export const createRecordFailedIterationHandler = (deps: WorkerDeps) => (event: unknown) =>
  recordFailedRun(FailedRunInput.parse(event), deps);
