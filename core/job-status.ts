import { z } from 'zod';

export const JobStatus = z.enum(['pending', 'running', 'completed', 'partial', 'failed', 'cancelled']);
export type JobStatus = z.infer<typeof JobStatus>;

/**
 * Which status may follow which: the one table of a job's life. A status nothing may follow has
 * ended the job; every other one is active (counted against its owner's limit, resumed after a
 * restart). Only a running job never expires (see hasExpired).
 */
const NEXT: Record<JobStatus, readonly JobStatus[]> = {
  pending: ['running', 'completed', 'partial', 'failed', 'cancelled'],
  running: ['completed', 'partial', 'failed', 'cancelled'],
  completed: [],
  partial: [],
  failed: [],
  cancelled: [],
};

export const mayTransition = (from: JobStatus, to: JobStatus): boolean => NEXT[from].includes(to);
export const isTerminal = (status: JobStatus): boolean => NEXT[status].length === 0;
export const isActive = (status: JobStatus): boolean => !isTerminal(status);
export const ACTIVE_STATUSES: readonly JobStatus[] = JobStatus.options.filter(isActive);
/** The status a job's live progress (`current`) is kept in; any move drops it. */
export const PROGRESS_STATUS: JobStatus = 'running';

/** The statuses a job may leave for `to`: a move that applies only to a job still in flight. */
export const sourcesOf = (to: JobStatus): JobStatus[] =>
  JobStatus.options.filter((s) => mayTransition(s, to));

/** A checked move of a job's status, with what it stamps (see planTransition). */
export interface TransitionPlan {
  from: readonly JobStatus[];
  to: JobStatus;
  /** Set with the status: started_at on starting, finished_at on ending. */
  stamps: { started_at?: string; finished_at?: string };
  /** The job starts running: it no longer expires, however long it runs. */
  starts: boolean;
  /** The job ends: it leaves its owner's active jobs, and its retention counts from `at`. */
  ends: boolean;
}

/** What a store writes to move a job from one of `from` to `to` at `at`; throws on a move the table forbids. */
export function planTransition(from: readonly JobStatus[], to: JobStatus, at: string): TransitionPlan {
  const forbidden = from.filter((status) => !mayTransition(status, to));
  if (from.length === 0 || forbidden.length > 0)
    throw new Error(`a job cannot go from ${from.join('|') || 'nothing'} to ${to}`);
  const starts = to === PROGRESS_STATUS;
  const ends = isTerminal(to);
  return {
    from,
    to,
    stamps: starts ? { started_at: at } : ends ? { finished_at: at } : {},
    starts,
    ends,
  };
}
