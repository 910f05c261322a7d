import { z } from 'zod';
import { formatDuration } from './duration.ts';
import { type Calibration, estimateJobSeconds, type HostRate, remainingSeconds } from './estimate.ts';
import { isTerminal, type JobRecord, JobStatus } from './job.ts';
import { liveStep, samplingImages } from './live-step.ts';
import { waitingForHost } from './pool/outage.ts';

/**
 * What `sdreforge_batch_status` answers: a few hundred bytes whatever the job's size. A nullable
 * value carries its description on the value itself: zod writes a bare type or null as a `type`
 * array, which single-type schema dialects (Gemini's function declarations) reject, and a
 * described value as anyOf branches, which they take.
 */
export const StatusView = z.object({
  job_id: z.string(),
  status: JobStatus,
  completed_images: z.number().int(),
  failed_images: z.number().int(),
  total_images: z.number().int(),
  progress: z.string().describe('e.g. "5/12 images completed"'),
  elapsed_time: z.string(),
  elapsed_seconds: z.number(),
  estimated_remaining: z
    .string()
    .describe(
      'Time left, e.g. "2m 10s"; or, with estimated_remaining_seconds null, what the job waits for (e.g. "waiting for a GPU host: …").',
    )
    .nullable(),
  estimated_remaining_seconds: z.number().describe('Seconds left, while they can be told.').nullable(),
  current: z
    .object({ iteration: z.number().int(), step: z.number().int(), steps: z.number().int() })
    .nullable()
    .describe('The SD WebUI call running now for this job, if any.'),
  poll_after_seconds: z.number().describe('When to ask again; null once the job has ended.').nullable(),
  notes: z.array(z.string()).optional().describe('Things to know, e.g. a GPU host taken out of rotation.'),
});
export type StatusView = z.infer<typeof StatusView>;

const secondsBetween = (from: string, to: Date): number => (to.getTime() - Date.parse(from)) / 1000;

/**
 * What the ETA starts from before the job's own throughput says enough: the a-priori seconds of
 * the whole job (from the hosts' measured rates now, or the estimate stored at start) and the
 * images one round of the pool makes at once (batch_size x hosts working on the job).
 */
export interface EtaPrior {
  jobSeconds: number;
  roundImages: number;
}

/** Images one round of the pool makes for this job: one iteration on each host it can use. */
const roundImages = (job: JobRecord, hosts: number) =>
  job.params.batch_size * Math.max(1, Math.min(job.params.n_iter, hosts));

/** Whether the ETA still leans on the a-priori estimate, so the hosts' current rates are worth a read. */
export const etaLeansOnEstimate = (job: JobRecord, hosts: number): boolean =>
  !isTerminal(job.status) && job.completed_images + job.failed_images < roundImages(job, hosts);

/**
 * The prior from the hosts' rates when a reading holds a measurement made since the job started,
 * else from the estimate made at start: that one came from a fresh reading, so an older or shared
 * reading with nothing newer could only make it worse.
 */
export function etaPrior(
  job: JobRecord,
  calibration: Calibration,
  hosts: number,
  rates?: readonly HostRate[],
): EtaPrior {
  const createdAt = Date.parse(job.created_at);
  const newer = rates?.some((host) => host.measuredAt > createdAt);
  return {
    jobSeconds:
      rates && newer ? estimateJobSeconds(job.params, calibration, hosts, rates) : job.estimated_seconds,
    roundImages: roundImages(job, hosts),
  };
}

export function toStatusView(job: JobRecord, now: Date, prior?: EtaPrior): StatusView {
  const ended = isTerminal(job.status);
  const start = job.started_at ?? job.created_at;
  const end = ended && job.finished_at ? new Date(job.finished_at) : now;
  const elapsed = Math.max(0, secondsBetween(start, end));
  const outage = !ended && job.outage ? job.outage : undefined;
  const done = job.completed_images + job.failed_images;
  const nowMs = now.getTime();
  const current = ended ? undefined : job.current;
  // The last step written for an iteration that has since finished is history, not progress.
  const live = current && !job.counted?.has(current.iteration) ? current : undefined;
  // Once the job's own throughput counts, the running call's sampled part counts as work done:
  // the ETA falls while it samples. Before, the estimate counts down on its own.
  const sampling =
    current && done > 0 ? samplingImages(current, live === undefined, job.params.batch_size, nowMs) : 0;
  const estimate =
    ended || outage
      ? null
      : remainingSeconds({
          elapsedSeconds: elapsed,
          doneImages: done,
          samplingImages: sampling,
          totalImages: job.total_images,
          estimatedSeconds: prior?.jobSeconds ?? job.estimated_seconds,
          roundImages: prior?.roundImages,
          countedElapsedSeconds: job.counted_at ? secondsBetween(start, new Date(job.counted_at)) : undefined,
        });
  // No host works, or nothing is made yet and the estimate is used up: the job is not about to
  // end, and no time can be given (the estimate would say "0s"); say what it waits for instead.
  const late = estimate === 0 && done + sampling < job.total_images;
  const waiting = outage ? waitingForHost(outage, nowMs) : late ? FIRST_IMAGES_LATE : undefined;
  const remaining = late ? null : estimate;
  const failed = job.failed_images > 0 ? `, ${job.failed_images} failed` : '';
  return {
    job_id: job.job_id,
    status: job.status,
    completed_images: job.completed_images,
    failed_images: job.failed_images,
    total_images: job.total_images,
    progress: `${job.completed_images}/${job.total_images} images completed${failed}`,
    elapsed_time: formatDuration(elapsed),
    elapsed_seconds: Math.round(elapsed),
    estimated_remaining: waiting ?? (remaining === null ? null : formatDuration(remaining)),
    estimated_remaining_seconds: remaining === null ? null : Math.round(remaining),
    current: live ? { iteration: live.iteration, step: liveStep(live, nowMs), steps: live.steps } : null,
    poll_after_seconds: ended ? null : outage ? WAITING_POLL_SECONDS : pollAfterSeconds(remaining),
    ...(job.notes?.length ? { notes: job.notes } : {}),
  };
}

/**
 * What the job waits for instead of a time left, when status says so (every GPU host fails, or
 * its first images are late): the one test the status tool, the task's message and the CLI's
 * line share.
 */
export const waitingFor = (view: StatusView): string | undefined =>
  view.poll_after_seconds !== null && view.estimated_remaining_seconds === null
    ? (view.estimated_remaining ?? undefined)
    : undefined;

const FIRST_IMAGES_LATE = 'waiting for the first images, which take longer than estimated';

/** A host that fails is retried every few seconds and given up on within minutes: no need to ask often. */
const WAITING_POLL_SECONDS = 15;

/** When the time left is not known (a job late on its estimate). */
const UNKNOWN_POLL_SECONDS = 5;
const MIN_POLL_SECONDS = 1;
const MAX_POLL_SECONDS = 60;

/**
 * Seconds before the first or next poll of a job with `remaining` seconds left: a quarter of it,
 * so often near the end, rarely during a long job (a model's tool calls are not free), and never
 * later than the job should end.
 */
export function pollAfterSeconds(remaining: number | null): number {
  if (remaining === null) return UNKNOWN_POLL_SECONDS;
  return Math.min(MAX_POLL_SECONDS, Math.max(MIN_POLL_SECONDS, Math.round(remaining / 4)));
}
