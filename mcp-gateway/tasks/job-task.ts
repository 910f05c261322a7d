import type { TaskStatusV2, TaskV2 } from '@modelcontextprotocol/ext-tasks/core/v2';
import type { Task as LegacyTask, Request } from '@modelcontextprotocol/sdk/types.js';
import type { JobRecord, JobStatus } from '../../core/job.ts';
import { JOB_ID_PATTERN } from '../../core/job-id.ts';
import { type StatusView, toStatusView, waitingFor } from '../../core/status-view.ts';

/**
 * A job seen as an MCP task, in the extension io.modelcontextprotocol/tasks (2026-07-28) and in
 * the 2025-11-25 core form: the task id is the job id and every field derives from the job
 * record, so there is nothing to keep in step and any gateway reading the table answers for any
 * task.
 */

const TASK_STATUS: Record<JobStatus, TaskStatusV2> = {
  pending: 'working',
  running: 'working',
  completed: 'completed',
  // Some images failed, the rest are there: the result holds them and lists the failures.
  partial: 'completed',
  failed: 'failed',
  cancelled: 'cancelled',
};

export const taskStatusOf = (status: JobStatus): TaskStatusV2 => TASK_STATUS[status];

/** Only a string shaped like a job id can name a task; anything else is unknown without a read. */
export const isJobId = (taskId: string): boolean => JOB_ID_PATTERN.test(taskId);

export function toTask(job: JobRecord, now: Date): TaskV2 {
  const view = toStatusView(job, now);
  return {
    taskId: job.job_id,
    status: taskStatusOf(job.status),
    // The spec counts the ttl from creation; the job (and so its task) is kept until expires_at.
    ttlMs: job.expires_at * 1000 - Date.parse(job.created_at),
    createdAt: job.created_at,
    lastUpdatedAt: lastUpdated(job),
    // The hint sdreforge_batch_status gives; none once the job has ended.
    ...(view.poll_after_seconds === null ? {} : { pollIntervalMs: view.poll_after_seconds * 1000 }),
    statusMessage: statusMessage(job.status, view),
  };
}

/**
 * "5/12 images completed, ETA 49s", or what it waits for instead of the ETA; the job's own status
 * first where the task status hides it.
 */
function statusMessage(status: JobStatus, view: StatusView): string {
  const { progress, estimated_remaining: eta } = view;
  const waiting = waitingFor(view);
  const text = waiting ? `${progress}, ${waiting}` : eta ? `${progress}, ETA ${eta}` : progress;
  return status === 'running' || status === 'completed' ? text : `${status}: ${text}`;
}

function lastUpdated(job: JobRecord): string {
  const times = [job.created_at, job.started_at, job.current?.updated_at, job.finished_at];
  return times
    .filter((t): t is string => t !== undefined)
    .reduce((latest, t) => (Date.parse(t) > Date.parse(latest) ? t : latest));
}

/** The same task in the 2025-11-25 form: `ttl` and `pollInterval` instead of `…Ms`. */
export function toLegacyTask(job: JobRecord, now: Date): LegacyTask {
  const { ttlMs, pollIntervalMs, ...rest } = toTask(job, now);
  return { ...rest, ttl: ttlMs, ...(pollIntervalMs === undefined ? {} : { pollInterval: pollIntervalMs }) };
}

/** Whether a 2025-era request asked for a task (`params.task`) rather than for its result. */
export const isTaskAugmented = (request: Request): boolean => Boolean(request.params?.task);
