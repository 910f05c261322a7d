import { z } from 'zod';

/** What each Task state receives from the state machine: identifiers only. */
export const JobTaskInput = z.object({ job_id: z.string() });
export type JobTaskInput = z.infer<typeof JobTaskInput>;

/** One Map item: runner r of n, which does its share of the job's iterations (runnerIterations). */
const RunItem = z.object({
  job_id: z.string(),
  runner: z.number().int().nonnegative(),
  runners: z.number().int().positive(),
  /** Runners the job was admitted with, that run at once (see "Wait for the GPU pool"). */
  concurrency: z.number().int().positive().optional(),
  /** The free slots it was admitted for: what its runners claim at most. */
  slots: z.number().int().positive().optional(),
  /** The free slots the admission named, `host:port#slot`: runner r's are the two from 2r. */
  assigned: z.array(z.string().max(300)).max(1000).optional(),
  /** Epoch ms until which they are its to take (see ASSIGNED_MS). */
  assigned_until: z.number().optional(),
});
const runnerInRange = (r: z.infer<typeof RunItem>) => r.runner < r.runners;
const runnerMessage = { message: 'runner must be below runners', path: ['runner'] };

export const RunTaskInput = RunItem.refine(runnerInRange, runnerMessage);
export type RunTaskInput = z.infer<typeof RunTaskInput>;

/** What "Wait for the GPU pool" hands the same function: the job, its runners, and the token. */
export const AdmitTaskInput = z.object({
  job_id: z.string(),
  runners: z.number().int().positive(),
  task_token: z.string().min(1),
});
export type AdmitTaskInput = z.infer<typeof AdmitTaskInput>;

/** What "Wait for a GPU slot" hands its function: the runner, and the token that ends its wait. */
export const WaitTaskInput = RunItem.extend({ task_token: z.string().min(1) }).refine(
  runnerInRange,
  runnerMessage,
);
export type WaitTaskInput = z.infer<typeof WaitTaskInput>;

/** A Catch with ResultPath $.error adds Step Functions' error object to the run's input. */
export const FailedRunInput = RunItem.extend({
  error: z.object({ Error: z.string(), Cause: z.string().optional() }),
}).refine(runnerInRange, runnerMessage);
export type FailedRunInput = z.infer<typeof FailedRunInput>;

export const RunTaskOutput = z.object({
  runner: z.number().int(),
  /** Images stored by this invocation. */
  images: z.number().int(),
  /** Iterations this invocation finished: made, or recorded as failed. */
  iterations: z.number().int(),
  failed: z.number().int(),
});
export type RunTaskOutput = z.infer<typeof RunTaskOutput>;
