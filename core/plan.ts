import { type Calibration, estimateJobSeconds, type HostRate } from './estimate.ts';
import type { GenerationParams, JobRecord } from './job.ts';
import type { WorkflowInput } from './ports.ts';

/**
 * The GPU pool a job is planned for: the hosts its estimate spreads over, and the slots its
 * runners fill (hosts x depth, or the operator's SDBATCH_CONCURRENCY). Every configured slot
 * counts, a resting host's too: a runner waiting for a slot costs no Lambda time, and a host back
 * from its rest gets work at once.
 */
export interface PoolSize {
  hosts: number;
  slots: number;
}

export interface PlanContext {
  jobId: string;
  owner: string;
  now: Date;
  retentionSeconds: number;
  calibration: Calibration;
  pool: PoolSize;
  /** Each GPU host's measured rates, when the pool could be read: they beat the calibration. */
  hostRates?: readonly HostRate[];
  preset?: string;
}

/** The job record stored before anything runs, from parameters already merged and validated. */
export function planJob(params: GenerationParams, ctx: PlanContext): JobRecord {
  return {
    job_id: ctx.jobId,
    owner: ctx.owner,
    status: 'pending',
    created_at: ctx.now.toISOString(),
    ...(ctx.preset ? { preset: ctx.preset } : {}),
    params,
    total_images: params.batch_size * params.n_iter,
    completed_images: 0,
    failed_images: 0,
    attempts: {},
    failed_on: {},
    runners: runnerCount(params.n_iter, ctx.pool.slots),
    // Whole seconds, never 0: any job takes at least its round trips.
    estimated_seconds: Math.max(
      1,
      Math.ceil(estimateJobSeconds(params, ctx.calibration, ctx.pool.hosts, ctx.hostRates)),
    ),
    expires_at: Math.floor(ctx.now.getTime() / 1000) + ctx.retentionSeconds,
  };
}

/**
 * Seeds of iteration i: the images batch i of one SD WebUI call with the same seed, batch_size
 * and n_iter would have had (seed + i*b ... seed + i*b + b - 1). With a variation strength every
 * image keeps the base seed and the subseeds advance instead.
 */
export function iterationSeeds(params: GenerationParams, iteration: number): number[] {
  const first = params.seed + iteration * params.batch_size;
  const varied = (params.subseed_strength ?? 0) !== 0;
  return Array.from({ length: params.batch_size }, (_, k) => (varied ? params.seed : first + k));
}

/**
 * Calls one generate task keeps in flight. Two is what a host's depth of 2 needs: the next call
 * waits inside SD WebUI while the last one's images upload. Both belong to one invocation, so the
 * Lambda bills the GPU's time once, not once per queued call.
 */
export const CALLS_PER_RUNNER = 2;

/** Iterations an inline Map state runs at once in Step Functions: the most runners a job can have. */
export const MAX_RUNNERS = 40;

/**
 * How many generate tasks (Map items) a job gets: enough to fill every slot, never more than its
 * iterations keep busy with two calls each (a runner with one would take another's, or idle a
 * Lambda), nor than an inline Map runs at once. The same sum an admission makes of its slots.
 */
export function runnerCount(nIter: number, slots: number): number {
  const busy = Math.ceil(Math.min(nIter, slots) / CALLS_PER_RUNNER);
  return Math.max(1, Math.min(MAX_RUNNERS, busy));
}

/**
 * What a job's execution starts with, from its plan: its id, and its runners (the Map state's
 * items: runner r of n is item r). Identifiers only, never images or prompts. The same for a
 * resumed execution as for the first, so each runner keeps its iterations.
 */
export function workflowInput(job: Pick<JobRecord, 'job_id' | 'runners'>): WorkflowInput {
  // A job stored before plans had runners resumes with one, which makes every iteration left.
  const runners = job.runners ?? 1;
  return { job_id: job.job_id, runners, runner_ids: Array.from({ length: runners }, (_, r) => r) };
}

/**
 * The iterations runner r of n does, in order: r, r+n, r+2n... Interleaved rather than in
 * blocks, so the runners finish together and no host idles at the end of a job.
 */
export function runnerIterations(runner: number, runners: number, nIter: number): number[] {
  const out: number[] = [];
  for (let i = runner; i < nIter; i += runners) out.push(i);
  return out;
}

/**
 * The iterations runner r helps with once its own are all launched: the other runners', last
 * first, while they work through theirs from the first.
 */
export function othersIterations(runner: number, runners: number, nIter: number): number[] {
  const mine = new Set(runnerIterations(runner, runners, nIter));
  const out: number[] = [];
  for (let i = nIter - 1; i >= 0; i--) if (!mine.has(i)) out.push(i);
  return out;
}
