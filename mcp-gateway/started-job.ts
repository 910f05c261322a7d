import type { CreateTaskOptions } from '@modelcontextprotocol/sdk/experimental/tasks';
import type { CallToolResult } from '@modelcontextprotocol/server';
import type { JobRecord } from '../core/job.ts';

/*
 * How the start tool hands a job it started to the 2025-11-25 task store: beside both, so the
 * tools never import the task code built on them.
 */

/** A job sdreforge_batch_start has just started (or found by client_token), with the tool's answer. */
export interface StartedJob {
  job: JobRecord;
  /** What a plain tools/call of the start tool answers: the job id and an estimate. */
  answer: CallToolResult;
}

const STARTED = 'sdbatch/started-job';

/** The options the start tool creates its task with: the task store builds the task from the job. */
export const startedTaskOptions = (started: StartedJob): CreateTaskOptions => ({
  context: { [STARTED]: started },
});

/** The started job the start tool handed over, if these options came from it. */
export const startedJobOf = (options: CreateTaskOptions): StartedJob | undefined =>
  // Never crosses the wire: the start tool's handler put it there in this process.
  options.context?.[STARTED] as StartedJob | undefined;
