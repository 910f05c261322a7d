import { isTerminal, type JobStatus } from './job-status.ts';

/**
 * How long an admitted job may go uncreated before a full admission list counts it as never
 * created: a start stores its job within a few writes of being admitted.
 */
export const ADMISSION_GRACE_MS = 60_000;

/**
 * Whether an admission no longer holds a place among its owner's active jobs: its job ended (and
 * the withdrawal was lost), or was never created and is past its grace. `at` and `admittedAt` are
 * epoch ms.
 */
export const isStaleAdmission = (
  job: { status: JobStatus } | undefined,
  admittedAt: number,
  at: number,
): boolean => (job ? isTerminal(job.status) : at - admittedAt > ADMISSION_GRACE_MS);
