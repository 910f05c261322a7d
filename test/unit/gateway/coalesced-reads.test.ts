import { describe, expect, it } from 'vitest';
import type { JobRecord } from '../../../core/job.ts';
import type { JobStore } from '../../../core/ports.ts';
import { coalesceJobReads } from '../../../mcp-gateway/coalesced-reads.ts';

/** A store whose reads stay open until the test settles them, counting each one. */
function heldStore() {
  const reads: Array<{
    jobId: string;
    settle: (job: JobRecord | undefined) => void;
    fail: (e: Error) => void;
  }> = [];
  const store = {
    get: (jobId: string) =>
      new Promise<JobRecord | undefined>((settle, fail) => {
        reads.push({ jobId, settle, fail });
      }),
    transition: async () => true,
    setCurrent: async () => {},
  } as unknown as JobStore;
  return { store, reads };
}

const job = (status: JobRecord['status']) => ({ job_id: 'job_a', status }) as JobRecord;

describe('coalesceJobReads', () => {
  it('answers concurrent reads of one job with a single store read', async () => {
    const { store, reads } = heldStore();
    const jobs = coalesceJobReads(store);
    const answers = Promise.all([jobs.get('job_a'), jobs.get('job_a'), jobs.get('job_a'), jobs.get('job_b')]);
    expect(reads.map((r) => r.jobId)).toEqual(['job_a', 'job_b']);
    reads[0]?.settle(job('running'));
    reads[1]?.settle(undefined);
    const [x, y, z, other] = await answers;
    expect([x?.status, y?.status, z?.status, other]).toEqual(['running', 'running', 'running', undefined]);
  });

  it('keeps nothing once a read settles: the next read goes to the store', async () => {
    const { store, reads } = heldStore();
    const jobs = coalesceJobReads(store);
    const first = jobs.get('job_a');
    reads[0]?.settle(job('running'));
    await first;
    const second = jobs.get('job_a');
    expect(reads).toHaveLength(2);
    reads[1]?.settle(job('completed'));
    expect((await second)?.status).toBe('completed');
  });

  it('does not share a failed read with later callers', async () => {
    const { store, reads } = heldStore();
    const jobs = coalesceJobReads(store);
    const failing = jobs.get('job_a');
    reads[0]?.fail(new Error('throttled'));
    await expect(failing).rejects.toThrow('throttled');
    const retried = jobs.get('job_a');
    expect(reads).toHaveLength(2);
    reads[1]?.settle(job('running'));
    expect((await retried)?.status).toBe('running');
  });

  it('after a write through it, a read does not join one that began before the write', async () => {
    const { store, reads } = heldStore();
    const jobs = coalesceJobReads(store);
    const before = jobs.get('job_a');
    await jobs.transition('job_a', ['running'], 'cancelled', '2026-11-24T00:00:00.000Z');
    const after = jobs.get('job_a');
    expect(reads).toHaveLength(2);
    reads[0]?.settle(job('running'));
    reads[1]?.settle(job('cancelled'));
    expect((await before)?.status).toBe('running');
    expect((await after)?.status).toBe('cancelled');
  });
});
