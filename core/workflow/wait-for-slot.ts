import { TaskGoneError } from '../errors.ts';
import { isTerminal } from '../job.ts';
import { admissionOutput } from '../pool/host-pool.ts';
import { ADMISSION_RUNNER } from '../pool/waiters.ts';
import type { HostPool, JobRecords, TaskCallbacks } from '../ports.ts';
import { jobClaim } from './job-claim.ts';
import type { AdmitTaskInput, WaitTaskInput } from './task-io.ts';

export interface WaitDeps {
  jobs: Pick<JobRecords, 'get'>;
  pool: HostPool;
  callbacks: TaskCallbacks;
}

/**
 * The function "Wait for a GPU slot" invokes: it puts the runner's task token in the pool's
 * queue and returns at once; the execution then waits, billing nothing, until whoever frees a
 * slot for this runner sends SendTaskSuccess (or, if one is free already, right away). A job
 * that has ended needs no slot: its runner is let go at once and sees the end itself.
 */
export async function waitForSlot(input: WaitTaskInput, deps: WaitDeps): Promise<{ queued: boolean }> {
  const job = await deps.jobs.get(input.job_id);
  if (!job || isTerminal(job.status)) {
    try {
      await deps.callbacks.succeed(input.task_token, { job_ended: true });
    } catch (error) {
      // The execution stopped (a cancel): nothing waits for this answer.
      if (!(error instanceof TaskGoneError)) throw error;
    }
    return { queued: false };
  }
  await deps.pool.registerWaiter(
    jobClaim(job, input.concurrency ?? input.runners, input.slots),
    input.runner,
    input.task_token,
  );
  return { queued: true };
}

/**
 * The function "Wait for the GPU pool" invokes before any runner starts: it puts the job in the
 * pool's line, one place for all its runners, and returns at once; whoever frees slots for it
 * (or this call, if some are free already) sends SendTaskSuccess with the runners to start. A job
 * that has ended needs no slot: it goes on at once with one runner, which sees the end.
 */
export async function waitForAdmission(input: AdmitTaskInput, deps: WaitDeps): Promise<{ queued: boolean }> {
  const job = await deps.jobs.get(input.job_id);
  if (!job || isTerminal(job.status)) {
    try {
      await deps.callbacks.succeed(input.task_token, {
        job_ended: true,
        ...admissionOutput(2, [], 0),
      });
    } catch (error) {
      if (!(error instanceof TaskGoneError)) throw error;
    }
    return { queued: false };
  }
  await deps.pool.registerWaiter(jobClaim(job, input.runners), ADMISSION_RUNNER, input.task_token);
  return { queued: true };
}
