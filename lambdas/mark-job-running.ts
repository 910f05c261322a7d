import { markJobRunning } from '../core/workflow/mark-job-running.ts';
import { JobTaskInput } from '../core/workflow/task-io.ts';
import type { WorkerDeps } from './worker-deps.ts';

export const createMarkJobRunningHandler = (deps: WorkerDeps) => (event: unknown) =>
  markJobRunning(JobTaskInput.parse(event), deps);
