import { DIMENSION, METRIC } from '../core/metrics.ts';
import { finalizeJob } from '../core/workflow/finalize-job.ts';
import { JobTaskInput } from '../core/workflow/task-io.ts';
import type { WorkerDeps } from './composition.ts';

/** A stopped execution (a cancel) never gets here: the jobs counted are those the workflow ended. */
export const createFinalizeJobHandler = (deps: WorkerDeps) => async (event: unknown) => {
  const ended = await finalizeJob(JobTaskInput.parse(event), deps);
  deps.metrics.add(METRIC.jobsEnded, 'Count', 1, { [DIMENSION.status]: ended.status });
  return ended;
};
