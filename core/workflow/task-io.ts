import { z } from 'zod';

/** What each Task state receives from the state machine: identifiers only. */
export const JobTaskInput = z.object({ job_id: z.string() });
export type JobTaskInput = z.infer<typeof JobTaskInput>;

export const IterationTaskInput = z.object({ job_id: z.string(), iteration: z.number().int().nonnegative() });
export type IterationTaskInput = z.infer<typeof IterationTaskInput>;

/** A Catch with ResultPath $.error adds Step Functions' error object to the iteration's input. */
export const FailedIterationInput = IterationTaskInput.extend({
  error: z.object({ Error: z.string(), Cause: z.string().optional() }),
});
export type FailedIterationInput = z.infer<typeof FailedIterationInput>;

export const IterationTaskOutput = z.object({
  iteration: z.number().int(),
  images: z.number().int(),
  skipped: z.boolean(),
});
export type IterationTaskOutput = z.infer<typeof IterationTaskOutput>;
