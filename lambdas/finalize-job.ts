import { finalizeJob } from '../core/workflow/finalize-job.ts';
import { JobTaskInput } from '../core/workflow/task-io.ts';
import type { WorkerDeps } from './composition.ts';

export const createFinalizeJobHandler = (deps: WorkerDeps) => (event: unknown) =>
  finalizeJob(JobTaskInput.parse(event), deps);
