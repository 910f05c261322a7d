import { z } from 'zod';
import { JobStatus, PROGRESS_STATUS } from './job-status.ts';
import { GenerationParams } from './params/generation.ts';
import { PoolOutage } from './pool/outage.ts';

export { isTerminal, JobStatus } from './job-status.ts';
export { GenerationParams } from './params/generation.ts';

/**
 * The SD WebUI call sampling now for the job, as its polls last wrote it: the step they saw and,
 * once measured, when its sampling began (our clock) and its rate, from which status works out
 * the step at the moment it is read (core/live-step.ts) without a write per step.
 */
export const CurrentProgress = z.object({
  iteration: z.number().int(),
  step: z.number().int(),
  steps: z.number().int(),
  updated_at: z.string(),
  sampling_since: z.string().optional(),
  steps_per_second: z.number().positive().optional(),
});
export type CurrentProgress = z.infer<typeof CurrentProgress>;

/** The job item as the domain sees it (the store adds its own key attributes). */
export const JobRecord = z.object({
  job_id: z.string(),
  owner: z.string(),
  status: JobStatus,
  created_at: z.string(),
  preset: z.string().optional(),
  started_at: z.string().optional(),
  finished_at: z.string().optional(),
  params: GenerationParams,
  total_images: z.number().int(),
  completed_images: z.number().int(),
  failed_images: z.number().int(),
  estimated_seconds: z.number(),
  current: CurrentProgress.optional(),
  /** Iterations whose images are counted (the store's idempotency set). */
  counted: z.set(z.number().int()).optional(),
  /**
   * When the last iteration was counted (its finish): the ETA counts down from it between counts,
   * so it falls while a call samples even before that call's pace is known.
   */
  counted_at: z.string().optional(),
  /**
   * Calls of each iteration that failed on the GPU host, by iteration number: kept with the job,
   * so a runner started again (after a pause, a wait or a crash) continues the count.
   */
  attempts: z.record(z.string(), z.number().int()).optional(),
  /** The hosts each iteration's failed calls were made on, by iteration number: its retries go elsewhere. */
  failed_on: z.record(z.string(), z.array(z.string())).optional(),
  /**
   * Every host of the pool failing, as a runner last saw it after a failed call; dropped by the
   * next image counted. Status says the job waits for a host instead of giving a time.
   */
  outage: PoolOutage.optional(),
  /** Generate tasks its execution runs, decided once when it is planned (runnerCount). */
  runners: z.number().int().positive().optional(),
  /**
   * Set once a runner takes other runners' iterations (the job's end): from then on a call checks,
   * once it holds its slot, that no other worker holds one for the same iteration.
   */
  stealing: z.boolean().optional(),
  contact_sheet: z
    .object({
      key: z.string(),
      width: z.number(),
      height: z.number(),
      images: z.number(),
      rendered_at: z.string(),
    })
    .optional(),
  /** Things the owner should know, e.g. a GPU host taken out of rotation (the last NOTES_KEPT). */
  notes: z.array(z.string()).optional(),
  /**
   * Epoch seconds after which the job and its images may be deleted: its retention counted from
   * its creation until it ends, and from its end once it has (see retentionOf).
   */
  expires_at: z.number().int(),
});
export type JobRecord = z.infer<typeof JobRecord>;

/** The job's retention in seconds: what its first expiry added to its creation. */
export const retentionOf = (job: Pick<JobRecord, 'created_at' | 'expires_at'>): number =>
  job.expires_at - Math.floor(Date.parse(job.created_at) / 1000);

/**
 * When the job, or something it writes now, may be deleted: a job that has not ended never
 * expires (however long it runs past its retention), and what it writes lives a retention from
 * the moment it is written.
 */
export const expiryFrom = (job: Pick<JobRecord, 'created_at' | 'expires_at'>, nowMs: number): number =>
  Math.floor(nowMs / 1000) + retentionOf(job);

/**
 * Whether the job has expired at `nowMs`. A running job never does. A pending one does once its
 * retention has passed: its execution never began (a start that died between storing the job and
 * starting it), and it must not count against its owner's active jobs for ever. The stores' TTL
 * follows the same rule (planTransition: lifted when a job starts, set again when it ends).
 */
export const hasExpired = (job: Pick<JobRecord, 'status' | 'expires_at'>, nowMs: number): boolean =>
  job.status !== PROGRESS_STATUS && job.expires_at * 1000 <= nowMs;
export type ContactSheet = NonNullable<JobRecord['contact_sheet']>;

/** Notes a job keeps for status, the newest: status stays small however much happens. */
export const NOTES_KEPT = 5;

/** How many of its oldest notes a job holding `count` drops. */
export const notesToDrop = (count: number): number => Math.max(0, count - NOTES_KEPT);

export const StoredImage = z.object({
  key: z.string(),
  index: z.number().int(),
  seed: z.number().int(),
  subseed: z.number().int().optional(),
  width: z.number().int(),
  height: z.number().int(),
  infotext: z.string().optional(),
});
export type StoredImage = z.infer<typeof StoredImage>;

/** One finished iteration (one SD WebUI call): its images, or why it failed. */
export const IterationRecord = z.object({
  job_id: z.string(),
  iteration: z.number().int(),
  status: z.enum(['succeeded', 'failed']),
  /** Images this iteration accounts for: made (succeeded) or lost (failed). */
  image_count: z.number().int(),
  images: z.array(StoredImage),
  error: z.object({ type: z.string(), message: z.string() }).optional(),
  finished_at: z.string(),
});
export type IterationRecord = z.infer<typeof IterationRecord>;

/** The status of an iteration that is final: a stored success is never replaced by a failure. */
export const FINAL_ITERATION_STATUS = 'succeeded' satisfies IterationRecord['status'];

/** Whether a record may be stored over `stored` (none yet, or a failure to try again). */
export const mayReplaceIteration = (stored: Pick<IterationRecord, 'status'> | undefined): boolean =>
  stored?.status !== FINAL_ITERATION_STATUS;

/** The job counter an iteration's images are added to: made or lost. */
export const counterOf = (record: Pick<IterationRecord, 'status'>): 'completed_images' | 'failed_images' =>
  record.status === 'succeeded' ? 'completed_images' : 'failed_images';
