import { JobNotFoundError } from '../errors.ts';
import { imageKey } from '../image-key.ts';
import { type GenerationParams, isTerminal, type StoredImage } from '../job.ts';
import { pngSize } from '../png-size.ts';
import type { ImageFetcher, ImageStore, JobStore, SdWebUi } from '../ports.ts';
import { buildTxt2ImgPayload } from '../txt2img-payload.ts';
import { prepareHostContext } from './host-context.ts';
import { startProgressReporter } from './progress-reporter.ts';
import type { IterationTaskInput, IterationTaskOutput } from './task-io.ts';

export interface GenerateDeps {
  jobs: JobStore;
  images: ImageStore;
  sd: SdWebUi;
  fetcher: ImageFetcher;
  now: () => Date;
  progressPollMs: number;
  progressWriteMs: number;
  /** Upper bound of one SD WebUI call for these parameters; below the task's own time-out. */
  callTimeoutMs: (params: GenerationParams) => number;
}

/**
 * One iteration = one txt2img call of batch_size images. Safe to run again: an iteration already
 * recorded is skipped, keys are a function of (job, iteration, index), and counting is idempotent.
 */
export async function generateIteration(
  input: IterationTaskInput,
  deps: GenerateDeps,
): Promise<IterationTaskOutput> {
  const { job_id: jobId, iteration } = input;
  const job = await deps.jobs.get(jobId);
  if (!job) throw new JobNotFoundError(jobId);
  if (isTerminal(job.status)) return { iteration, images: 0, skipped: true };
  const done = await deps.jobs.getIteration(jobId, iteration);
  if (done) return { iteration, images: done.images.length, skipped: true };

  const prepared = await prepareHostContext(job.params, deps);
  const reporter = startProgressReporter({
    sd: deps.sd,
    iteration,
    write: (current) => deps.jobs.setCurrent(jobId, current),
    now: deps.now,
    pollMs: deps.progressPollMs,
    writeEveryMs: deps.progressWriteMs,
    isCancelled: async () => (await deps.jobs.get(jobId))?.status === 'cancelled',
  });
  let result: Awaited<ReturnType<SdWebUi['txt2img']>>;
  let interrupted = false;
  try {
    result = await deps.sd.txt2img(
      buildTxt2ImgPayload(prepared.params, iteration, prepared.host),
      AbortSignal.timeout(deps.callTimeoutMs(job.params)),
    );
  } finally {
    interrupted = await reporter.stop();
  }
  // Cancelled mid-sampling: SD WebUI returns half-denoised images, which are not results.
  if (interrupted) return { iteration, images: 0, skipped: true };

  const stored: StoredImage[] = result.images.map((bytes, index) => ({
    key: imageKey(jobId, iteration, index),
    index,
    seed: result.seeds[index] ?? job.params.seed + iteration * job.params.batch_size + index,
    subseed: result.subseeds[index],
    // Hires fix and upscalers change the size: record what SD WebUI actually made.
    ...(pngSize(bytes) ?? { width: job.params.width, height: job.params.height }),
    infotext: result.infotexts[index],
  }));
  await Promise.all(
    stored.map((image, index) =>
      deps.images.put({
        key: image.key,
        body: result.images[index] as Uint8Array,
        contentType: 'image/png',
        expiresAt: job.expires_at,
      }),
    ),
  );
  await deps.jobs.recordIteration(
    {
      job_id: jobId,
      iteration,
      status: 'succeeded',
      image_count: stored.length,
      images: stored,
      finished_at: deps.now().toISOString(),
    },
    job.expires_at,
  );
  return { iteration, images: stored.length, skipped: false };
}
