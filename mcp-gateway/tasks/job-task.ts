import type { CreateTaskOptions } from '@modelcontextprotocol/sdk/experimental/tasks';
import type { CallToolResult, Request, Task, TaskStatus } from '@modelcontextprotocol/sdk/types.js';
import type { JobRecord, JobStatus } from '../../core/job.ts';
import { JOB_ID_PATTERN } from '../../core/job-id.ts';
import { toStatusView } from '../../core/status-view.ts';

/**
 * A job seen as an MCP task (spec 2025-11-25): the task id is the job id and every field derives
 * from the job record, so there is nothing to keep in step and any gateway reading the table
 * answers for any task.
 */

const TASK_STATUS: Record<JobStatus, TaskStatus> = {
  pending: 'working',
  running: 'working',
  completed: 'completed',
  // Some images failed, the rest are there: the result holds them and lists the failures.
  partial: 'completed',
  failed: 'failed',
  cancelled: 'cancelled',
};

export const taskStatusOf = (status: JobStatus): TaskStatus => TASK_STATUS[status];

/** Only a string shaped like a job id can name a task; anything else is unknown without a read. */
export const isJobId = (taskId: string): boolean => JOB_ID_PATTERN.test(taskId);

export function toTask(job: JobRecord, now: Date): Task {
  const view = toStatusView(job, now);
  return {
    taskId: job.job_id,
    status: taskStatusOf(job.status),
    // The spec counts the ttl from creation; the job (and so its task) is kept until expires_at.
    ttl: job.expires_at * 1000 - Date.parse(job.created_at),
    createdAt: job.created_at,
    lastUpdatedAt: lastUpdated(job),
    // The hint sdreforge_batch_status gives; none once the job has ended.
    ...(view.poll_after_seconds === null ? {} : { pollInterval: view.poll_after_seconds * 1000 }),
    statusMessage: statusMessage(job.status, view.progress),
  };
}

/** "5/12 images completed"; the job's own status first where the task status hides it. */
function statusMessage(status: JobStatus, progress: string): string {
  return status === 'running' || status === 'completed' ? progress : `${status}: ${progress}`;
}

function lastUpdated(job: JobRecord): string {
  const times = [job.created_at, job.started_at, job.current?.updated_at, job.finished_at];
  return times
    .filter((t): t is string => t !== undefined)
    .reduce((latest, t) => (Date.parse(t) > Date.parse(latest) ? t : latest));
}

/** Whether a request asked for a task (`params.task`) rather than for its result. */
export const isTaskAugmented = (request: Request): boolean => Boolean(request.params?.task);

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
