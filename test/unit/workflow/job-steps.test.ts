import { describe, expect, it } from 'vitest';
import { finalizeJob } from '../../../core/workflow/finalize-job.ts';
import { recordFailedRun } from '../../../core/workflow/record-failed-iteration.ts';
import { InMemoryJobStore } from '../../support/in-memory-job-store.ts';
import { generationParams, jobRecord } from '../../support/job-fixtures.ts';

const NOW = new Date('2026-11-24T10:05:00.000Z');
const pool = { dropWaiters: async () => {} };

async function storeWith(over: Parameters<typeof jobRecord>[0] = {}) {
  const jobs = new InMemoryJobStore();
  const job = jobRecord({ params: generationParams({ n_iter: 4, batch_size: 2 }), total_images: 8, ...over });
  await jobs.create(job);
  return { jobs, job };
}

describe('finalizeJob', () => {
  it('ends a running job as its counters say, stamping the end', async () => {
    const { jobs, job } = await storeWith({ completed_images: 2 });
    expect(await finalizeJob({ job_id: job.job_id }, { jobs, pool, now: () => NOW })).toEqual({
      job_id: job.job_id,
      status: 'partial',
    });
    expect(await jobs.get(job.job_id)).toMatchObject({ status: 'partial', finished_at: NOW.toISOString() });
  });

  it('leaves a cancelled job cancelled', async () => {
    const { jobs, job } = await storeWith({ status: 'cancelled' });
    await finalizeJob({ job_id: job.job_id }, { jobs, pool, now: () => NOW });
    expect((await jobs.get(job.job_id))?.status).toBe('cancelled');
  });
});

describe('recordFailedRun', () => {
  it("fails the runner's iterations not yet counted, once, whatever the Catch replays", async () => {
    const { jobs, job } = await storeWith();
    await jobs.recordIteration(
      {
        job_id: job.job_id,
        iteration: 1,
        status: 'succeeded',
        image_count: 2,
        images: [],
        finished_at: NOW.toISOString(),
      },
      job.expires_at,
    );
    const input = { job_id: job.job_id, runner: 1, runners: 2, error: { Error: 'States.Timeout' } };
    expect(await recordFailedRun(input, { jobs, now: () => NOW })).toEqual({ runner: 1, failed: 1 });
    await recordFailedRun(input, { jobs, now: () => NOW });
    expect(await jobs.get(job.job_id)).toMatchObject({ completed_images: 2, failed_images: 2 });
    expect((await jobs.listIterations(job.job_id)).map((r) => [r.iteration, r.status])).toEqual([
      [1, 'succeeded'],
      [3, 'failed'],
    ]);
  });
});
