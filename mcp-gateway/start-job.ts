import { createHash } from 'node:crypto';
import { InvalidRequestError } from '../core/errors.ts';
import { outputPixels } from '../core/estimate.ts';
import { startRefusal } from '../core/host-names.ts';
import type { JobRecord } from '../core/job.ts';
import { newJobId } from '../core/job-id.ts';
import { LIMITS } from '../core/limits.ts';
import { METRIC } from '../core/metrics.ts';
import type { StartInput } from '../core/params/generation.ts';
import { planJob, workflowInput } from '../core/plan.ts';
import { mergeParams } from '../core/presets/merge.ts';
import { checkControlImages } from './control-image-checks.ts';
import { storeInlineControlImages } from './control-images.ts';
import type { ToolContext } from './deps.ts';

export type StartArgs = StartInput & { client_token?: string };

/** Canonical JSON: the same arguments in any key order give the same fingerprint. */
function fingerprint(args: object): string {
  const canonical = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canonical)
      : v && typeof v === 'object'
        ? Object.fromEntries(
            Object.entries(v)
              .sort(([a], [b]) => a.localeCompare(b))
              .map(([k, x]) => [k, canonical(x)]),
          )
        : v;
  return createHash('sha256')
    .update(JSON.stringify(canonical(args)))
    .digest('hex');
}

/**
 * Validates against the limits, stores the job and starts its workflow. Every check runs before
 * the first write, so a refused call creates nothing; a client_token makes a retried call
 * return the first call's job.
 */
export async function startJob(
  ctx: ToolContext,
  args: StartArgs,
): Promise<{ job: JobRecord; reused: boolean }> {
  const { deps, caller } = ctx;
  const { preset: presetName, client_token: clientToken, ...generation } = args;
  const { limits } = deps.settings;
  const preset = deps.presets.get(presetName);
  if (!preset) {
    const known = deps.presets.list().map((p) => p.name);
    throw new InvalidRequestError(`preset: unknown preset "${presetName}"; available: ${known.join(', ')}`);
  }
  const now = deps.now();
  const expiresAt = Math.floor(now.getTime() / 1000) + deps.settings.retentionSeconds;
  let jobId = newJobId(now);
  const merged = mergeParams(preset.settings, generation);
  if (merged.prompt.length > limits.maxPromptChars) {
    throw new InvalidRequestError(
      `prompt: ${merged.prompt.length} characters with the preset's prefix and suffix; the limit is ${limits.maxPromptChars}`,
    );
  }
  const images = merged.batch_size * merged.n_iter;
  if (images > limits.maxImagesPerJob) {
    throw new InvalidRequestError(
      `batch_size x n_iter: ${merged.batch_size} x ${merged.n_iter} = ${images} images; the limit is ${limits.maxImagesPerJob} images per job`,
    );
  }

  const perCall = merged.batch_size * outputPixels(merged);
  if (perCall > LIMITS.pixelsPerCall) {
    const mp = (px: number) => (px / 1_000_000).toFixed(1);
    throw new InvalidRequestError(
      `batch_size x output size: ${merged.batch_size} x ${mp(outputPixels(merged))} MP = ${mp(perCall)} MP per SD WebUI call (hires included); the limit is ${mp(LIMITS.pixelsPerCall)} MP, 8 images at 2048x2048: lower batch_size, the size or hr_scale`,
    );
  }

  if (deps.hostNames) {
    // No list read (or none recent): the worker still checks the host itself.
    const reads = await deps.hostNames().catch(() => []);
    const refusal = startRefusal(merged, reads, now.getTime());
    if (refusal) throw new InvalidRequestError(refusal);
  }

  // The hosts' measured rates for the estimate, read while the checks below run; a failed read
  // costs only precision (the calibration stands in), never the start.
  const hostRates = deps.hostRates?.().catch(() => undefined);

  if (clientToken) {
    const claim = await deps.jobs.claimClientToken({
      owner: caller.id,
      token: clientToken,
      jobId,
      fingerprint: fingerprint({ ...generation, preset: preset.name }),
      expiresAt,
    });
    if (claim.fingerprint !== fingerprint({ ...generation, preset: preset.name })) {
      throw new InvalidRequestError(
        'client_token: already used for a job with other arguments; use a new token',
      );
    }
    const existing = claim.jobId === jobId ? undefined : await deps.jobs.get(claim.jobId);
    if (existing) return resume(ctx, existing);
    // The first call died between claiming the token and storing its job: finish its work.
    jobId = claim.jobId;
  }

  await checkControlImages(ctx, merged);
  // The last check, and the first write: one conditional write per start, so starts arriving
  // together (in parallel, or in one JSON-RPC batch) cannot all pass the limit.
  const admission = await deps.jobs.admit(caller.id, jobId, limits.maxActiveJobsPerCaller, now.getTime());
  if (!admission.admitted) {
    throw new InvalidRequestError(
      `active jobs: you have ${admission.active} jobs pending or running; the limit is ${limits.maxActiveJobsPerCaller}. ` +
        'Wait for one to end or cancel one.',
    );
  }

  let job: JobRecord;
  try {
    const params = await storeInlineControlImages(merged, jobId, deps.images, expiresAt);
    job = planJob(params, {
      jobId,
      owner: caller.id,
      now,
      retentionSeconds: deps.settings.retentionSeconds,
      calibration: deps.settings.calibration,
      pool: { hosts: deps.settings.hosts, slots: deps.settings.concurrency },
      hostRates: await hostRates,
      preset: preset.name,
    });
  } catch (error) {
    await deps.jobs.withdraw(caller.id, jobId);
    throw error;
  }
  // False only when a concurrent start with the same client_token stored this very job: its
  // admission is that job's, and stays.
  if (!(await deps.jobs.create(job))) {
    // A concurrent call with the same client_token stored it first.
    const first = await deps.jobs.get(job.job_id);
    if (first) return resume(ctx, first);
    throw new Error(`job ${job.job_id} exists but cannot be read`);
  }
  try {
    await deps.orchestrator.start(job.job_id, workflowInput(job));
  } catch (error) {
    // The job exists but will never run: say so in its record rather than leave it pending.
    await deps.jobs.transition(job.job_id, ['pending'], 'failed', deps.now().toISOString());
    throw error;
  }
  deps.metrics?.add(METRIC.jobsStarted, 'Count', 1);
  return { job, reused: false };
}

/**
 * The job a client_token already names. Starting its execution again is harmless (the same name
 * is the same execution) and covers a first call that died between storing and starting it.
 */
async function resume(ctx: ToolContext, job: JobRecord): Promise<{ job: JobRecord; reused: boolean }> {
  if (job.status === 'pending') {
    await ctx.deps.orchestrator.start(job.job_id, workflowInput(job));
  }
  return { job, reused: true };
}
