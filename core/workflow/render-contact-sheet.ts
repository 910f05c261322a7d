import { JobNotFoundError } from '../errors.ts';
import { IMAGE_FORMATS } from '../image-format/formats.ts';
import { contactSheetKey } from '../image-key.ts';
import type { ContactSheet } from '../job.ts';
import type { ContactSheetRenderer, ImageStore, IterationLedger, JobRecords } from '../ports.ts';
import type { JobTaskInput } from './task-io.ts';

export interface ContactSheetDeps {
  jobs: Pick<JobRecords, 'get' | 'setContactSheet'> & Pick<IterationLedger, 'listIterations'>;
  images: ImageStore;
  render: ContactSheetRenderer;
  now: () => Date;
}

/**
 * Draws the sheet of every image the job has so far and stores it beside them: at the end of
 * the workflow, and on demand (result with refresh) while the job runs.
 */
export async function renderJobContactSheet(
  input: JobTaskInput,
  deps: ContactSheetDeps,
): Promise<{ job_id: string; images: number; sheet?: ContactSheet }> {
  const job = await deps.jobs.get(input.job_id);
  if (!job) throw new JobNotFoundError(input.job_id);
  const images = (await deps.jobs.listIterations(job.job_id))
    .filter((it) => it.status === 'succeeded')
    .sort((a, b) => a.iteration - b.iteration)
    .flatMap((it) => it.images);
  if (images.length === 0) return { job_id: job.job_id, images: 0 };
  const first = images[0] as (typeof images)[number];
  const { png, width, height } = await deps.render(
    images.map((image) => ({ seed: image.seed, load: () => deps.images.get(image.key) })),
    first.width / first.height,
  );
  const key = contactSheetKey(job.job_id);
  await deps.images.put({
    key,
    body: png,
    contentType: IMAGE_FORMATS.png.contentType,
    expiresAt: job.expires_at,
  });
  const sheet = { key, width, height, images: images.length, rendered_at: deps.now().toISOString() };
  await deps.jobs.setContactSheet(job.job_id, sheet);
  return { job_id: job.job_id, images: images.length, sheet };
}
