import { describe, expect, it } from 'vitest';
import type { IterationRecord, JobRecord } from '../../core/job.ts';
import type { JobHousekeeping, JobStore } from '../../core/ports.ts';
import { generationParams, jobRecord } from './job-fixtures.ts';

let counter = 0;
/** A pending job of alice's with a fresh id: 3 iterations of 2 images. */
export function newJob(): JobRecord {
  counter++;
  return jobRecord({
    job_id: `job_20261124_test${String(counter).padStart(6, 'a')}`,
    status: 'pending',
    created_at: new Date().toISOString(),
    params: generationParams({
      prompt: 'p',
      width: 64,
      height: 64,
      steps: 2,
      seed: 10,
      batch_size: 2,
      n_iter: 3,
    }),
    total_images: 6,
    estimated_seconds: 1,
    expires_at: 2_000_000_000,
  });
}

export const succeeded = (job: JobRecord, iteration: number): IterationRecord => ({
  job_id: job.job_id,
  iteration,
  status: 'succeeded',
  image_count: 2,
  images: [0, 1].map((index) => ({
    key: `k/${iteration}-${index}`,
    index,
    seed: 10 + iteration * 2 + index,
    width: 64,
    height: 64,
  })),
  finished_at: '2026-11-24T10:00:00.000Z',
});

/**
 * What every job store does, whatever it keeps jobs in: run against the DynamoDB adapter (on
 * dynalite) and the in-memory one, so the two cannot drift. `store` is read inside each test.
 */
export function jobStoreBehaviour(store: () => JobStore): void {
  describe('job records', () => {
    it('stores and reads back a job; a second create with the same id is refused', async () => {
      const jobs = store();
      const job = newJob();
      expect(await jobs.create(job)).toBe(true);
      expect(await jobs.get(job.job_id)).toEqual(job);
      expect(await jobs.create({ ...job, owner: 'mallory' })).toBe(false);
      expect((await jobs.get(job.job_id))?.owner).toBe('alice');
      expect(await jobs.get('job_20261124_nonexisten')).toBeUndefined();
    });

    it('moves status only from the expected states and stamps the times', async () => {
      const jobs = store();
      const job = newJob();
      await jobs.create(job);
      expect(await jobs.transition(job.job_id, ['pending'], 'running', '2026-11-24T10:00:00.000Z')).toBe(
        true,
      );
      expect(await jobs.transition(job.job_id, ['pending'], 'running', '2026-11-24T10:00:01.000Z')).toBe(
        false,
      );
      expect(await jobs.transition(job.job_id, ['running'], 'completed', '2026-11-24T10:05:00.000Z')).toBe(
        true,
      );
      const stored = await jobs.get(job.job_id);
      expect(stored).toMatchObject({
        status: 'completed',
        started_at: '2026-11-24T10:00:00.000Z',
        finished_at: '2026-11-24T10:05:00.000Z',
      });
    });

    it('refuses a move the transition table forbids, writing nothing', async () => {
      const jobs = store();
      const job = newJob();
      await jobs.create({ ...job, status: 'completed' });
      await expect(
        jobs.transition(job.job_id, ['completed'], 'running', '2026-11-24T10:00:00.000Z'),
      ).rejects.toThrow(/cannot go from completed to running/);
      expect((await jobs.get(job.job_id))?.status).toBe('completed');
    });

    it('counts failed calls per iteration, atomically, also on a job stored before jobs carried the count', async () => {
      const jobs = store();
      const job = newJob();
      expect(job.attempts).toBeUndefined();
      await jobs.create(job);
      expect(await jobs.recordAttempt(job.job_id, 2, 'gpu-a')).toBe(1);
      const counts = await Promise.all([
        jobs.recordAttempt(job.job_id, 2, 'gpu-b'),
        jobs.recordAttempt(job.job_id, 2),
      ]);
      expect(counts.sort()).toEqual([2, 3]);
      expect(await jobs.recordAttempt(job.job_id, 0, 'gpu-a')).toBe(1);
      const stored = await jobs.get(job.job_id);
      expect(stored?.attempts).toEqual({ 0: 1, 2: 3 });
      // The hosts that failed each iteration, for its next tries to go elsewhere.
      expect(stored?.failed_on).toEqual({ 0: ['gpu-a'], 2: ['gpu-a', 'gpu-b'] });
    });

    it("keeps the pool's outage a failed call saw until the next image counted, or a failure that saw none", async () => {
      const jobs = store();
      const job = newJob();
      await jobs.create(job);
      const outage = {
        since: 1_000,
        hosts: [{ host_id: 'gpu-a', failing_since: 1_000, last_error: 'refused' }],
      };
      await jobs.recordAttempt(job.job_id, 0, 'gpu-a', outage);
      expect((await jobs.get(job.job_id))?.outage).toEqual(outage);
      // A failed iteration is no sign a host works: the outage stays.
      await jobs.recordIteration(
        { job_id: job.job_id, iteration: 1, status: 'failed', image_count: 1, images: [], finished_at: 'x' },
        job.expires_at,
      );
      expect((await jobs.get(job.job_id))?.outage).toEqual(outage);
      await jobs.recordIteration(
        {
          job_id: job.job_id,
          iteration: 2,
          status: 'succeeded',
          image_count: 1,
          images: [],
          finished_at: 'x',
        },
        job.expires_at,
      );
      expect((await jobs.get(job.job_id))?.outage).toBeUndefined();
      await jobs.recordAttempt(job.job_id, 0, 'gpu-a', outage);
      await jobs.recordAttempt(job.job_id, 0, 'gpu-b');
      expect((await jobs.get(job.job_id))?.outage).toBeUndefined();
    });

    it('writes live progress only while the job runs', async () => {
      const jobs = store();
      const job = newJob();
      await jobs.create(job);
      const current = { iteration: 0, step: 3, steps: 20, updated_at: new Date().toISOString() };
      await jobs.setCurrent(job.job_id, current);
      expect((await jobs.get(job.job_id))?.current).toBeUndefined();
      await jobs.transition(job.job_id, ['pending'], 'running', new Date().toISOString());
      await jobs.setCurrent(job.job_id, current);
      expect((await jobs.get(job.job_id))?.current).toEqual(current);
    });
  });

  describe('job notes', () => {
    it('keeps the last five lines for status', async () => {
      const jobs = store();
      const job = newJob();
      await jobs.create(job);
      for (let i = 1; i <= 7; i++) await jobs.addNote(job.job_id, `note ${i}`);
      expect((await jobs.get(job.job_id))?.notes).toEqual(['note 3', 'note 4', 'note 5', 'note 6', 'note 7']);
    });
  });

  describe('iteration ledger', () => {
    it('counts an iteration once however often it is recorded', async () => {
      const jobs = store();
      const job = newJob();
      await jobs.create(job);
      await Promise.all([0, 0, 0, 1, 1].map((i) => jobs.recordIteration(succeeded(job, i), job.expires_at)));
      expect((await jobs.get(job.job_id))?.completed_images).toBe(4);
      const list = await jobs.listIterations(job.job_id);
      expect(list.map((it) => it.iteration).sort()).toEqual([0, 1]);
      expect(await jobs.getIteration(job.job_id, 1)).toEqual(succeeded(job, 1));
    });

    it('never lets a late failure replace a success, and counts failures apart', async () => {
      const jobs = store();
      const job = newJob();
      await jobs.create(job);
      await jobs.recordIteration(succeeded(job, 0), job.expires_at);
      const failure = (iteration: number): IterationRecord => ({
        job_id: job.job_id,
        iteration,
        status: 'failed',
        image_count: 2,
        images: [],
        error: { type: 'SdWebUiRejectedError', message: '422' },
        finished_at: new Date().toISOString(),
      });
      await jobs.recordIteration(failure(0), job.expires_at);
      await jobs.recordIteration(failure(2), job.expires_at);
      await jobs.recordIteration(failure(2), job.expires_at);
      const stored = await jobs.get(job.job_id);
      expect(stored).toMatchObject({ completed_images: 2, failed_images: 2 });
      expect((await jobs.getIteration(job.job_id, 0))?.status).toBe('succeeded');
    });
  });

  const ownedBy = (owner: string): JobRecord => ({ ...newJob(), owner });

  describe('active jobs count', () => {
    const at = '2026-11-24T10:00:00.000Z';

    it('counts pending and running jobs only', async () => {
      const jobs = store();
      const owner = `carol-${Date.now()}`;
      const [a, b, c, d] = [ownedBy(owner), ownedBy(owner), ownedBy(owner), ownedBy(`${owner}-dave`)];
      for (const job of [a, b, c, d]) await jobs.create(job as JobRecord);
      expect(await jobs.countActive(owner)).toBe(3);
      await jobs.transition(b?.job_id as string, ['pending'], 'running', at);
      expect(await jobs.countActive(owner)).toBe(3);
      await jobs.transition(c?.job_id as string, ['pending'], 'cancelled', at);
      await jobs.transition(b?.job_id as string, ['running'], 'completed', at);
      expect(await jobs.countActive(owner)).toBe(1);
      expect(await jobs.countActive(`${owner}-dave`)).toBe(1);
      expect(await jobs.countActive('nobody')).toBe(0);
    });
  });

  describe('admission against the per-caller limit', () => {
    const T = 1_800_000_000_000;

    it('admits exactly the limit of 30 concurrent starts, and one more once a job ends', async () => {
      const jobs = store();
      const owner = `flood-${Date.now()}`;
      const starts = Array.from({ length: 30 }, () => ownedBy(owner));
      const answers = await Promise.all(starts.map((job) => jobs.admit(owner, job.job_id, 10, T)));
      const admitted = starts.filter((_, i) => answers[i]?.admitted);
      expect(admitted).toHaveLength(10);
      expect(answers.filter((a) => !a.admitted)).toEqual(Array(20).fill({ admitted: false, active: 10 }));
      for (const job of admitted) await jobs.create(job);
      // The same job again (a start retried with its client_token) takes no room.
      expect(await jobs.admit(owner, admitted[0]?.job_id as string, 10, T)).toEqual({ admitted: true });
      const late = ownedBy(owner);
      expect(await jobs.admit(owner, late.job_id, 10, T)).toMatchObject({ admitted: false });
      await jobs.transition(
        admitted[0]?.job_id as string,
        ['pending'],
        'cancelled',
        '2026-11-24T10:00:00.000Z',
      );
      expect(await jobs.admit(owner, late.job_id, 10, T)).toEqual({ admitted: true });
    });

    it('clears, when full, jobs that ended without leaving and starts that never stored their job', async () => {
      const jobs = store();
      const owner = `crashy-${Date.now()}`;
      const [ended, never, live] = [ownedBy(owner), ownedBy(owner), ownedBy(owner)];
      for (const job of [ended, never, live])
        expect(await jobs.admit(owner, job.job_id, 3, T)).toEqual({ admitted: true });
      await jobs.create(ended);
      await jobs.create(live);
      // The end of `ended` was written, its withdrawal lost (a crash between the two writes).
      await jobs.transition(ended.job_id, ['pending'], 'failed', '2026-11-24T10:00:00.000Z');
      await jobs.admit(owner, ended.job_id, 3, T);
      const next = ownedBy(owner);
      // `never` is still within its grace: its start may be storing it right now.
      expect(await jobs.admit(owner, next.job_id, 3, T + 1000)).toEqual({ admitted: true });
      const after = ownedBy(owner);
      expect(await jobs.admit(owner, after.job_id, 3, T + 2000)).toEqual({ admitted: false, active: 3 });
      expect(await jobs.admit(owner, after.job_id, 3, T + 120_000)).toEqual({ admitted: true });
    });

    it('counts the jobs already active when an owner is first admitted', async () => {
      const jobs = store();
      const owner = `upgraded-${Date.now()}`;
      for (const job of [ownedBy(owner), ownedBy(owner)]) await jobs.create(job);
      expect(await jobs.admit(owner, ownedBy(owner).job_id, 2, T)).toEqual({ admitted: false, active: 2 });
      expect(await jobs.admit(owner, ownedBy(owner).job_id, 3, T)).toEqual({ admitted: true });
    });

    it('takes back the admission of a start that stored nothing', async () => {
      const jobs = store();
      const owner = `withdrawn-${Date.now()}`;
      const [a, b] = [ownedBy(owner), ownedBy(owner)];
      expect(await jobs.admit(owner, a.job_id, 1, T)).toEqual({ admitted: true });
      await jobs.withdraw(owner, a.job_id);
      expect(await jobs.admit(owner, b.job_id, 1, T)).toEqual({ admitted: true });
    });
  });

  describe('listing by owner', () => {
    it("pages the owner's whole jobs newest first, and refuses a cursor it did not hand out", async () => {
      const jobs = store();
      const owner = `lister-${Date.now()}`;
      const made: JobRecord[] = [];
      for (let i = 0; i < 3; i++) {
        const job = {
          ...newJob(),
          // Ids in the real alphabet: the cursor names one, and only real ids pass its check.
          job_id: `job_20261124_list${'abc'[i]}${Date.now()
            .toString(32)
            .slice(-5)
            .replace(/[0189]/g, 'z')}`,
          owner,
          created_at: new Date(Date.UTC(2026, 10, 24, 0, 0, i)).toISOString(),
        };
        await jobs.create(job);
        made.push(job);
      }
      const page = await jobs.listByOwner(owner, { limit: 2 });
      expect(page.jobs.map((j) => j.job_id)).toEqual([made[2]?.job_id, made[1]?.job_id]);
      expect(page.jobs[0]?.params).toEqual(made[2]?.params);
      const rest = await jobs.listByOwner(owner, { limit: 2, cursor: page.nextCursor });
      expect(rest.jobs.map((j) => j.job_id)).toEqual([made[0]?.job_id]);
      await expect(
        jobs.listByOwner(`${owner}-other`, { limit: 2, cursor: page.nextCursor }),
      ).rejects.toMatchObject({
        name: 'InvalidRequestError',
      });
    });
  });

  describe('client tokens', () => {
    it('binds a token to the first job it names, for every later claim', async () => {
      const jobs = store();
      const claim = { owner: 'alice', token: `t-${Date.now()}`, fingerprint: 'f1', expiresAt: 2_000_000_000 };
      expect(await jobs.claimClientToken({ ...claim, jobId: 'job_a' })).toMatchObject({ jobId: 'job_a' });
      expect(await jobs.claimClientToken({ ...claim, jobId: 'job_b', fingerprint: 'f2' })).toMatchObject({
        jobId: 'job_a',
        fingerprint: 'f1',
      });
      expect(await jobs.claimClientToken({ ...claim, owner: 'bob', jobId: 'job_c' })).toMatchObject({
        jobId: 'job_c',
      });
    });
  });
}

/** What a store's housekeeping does (the embedded stack's sweep and resume), on the same store. */
export function housekeepingBehaviour(store: () => JobStore, housekeeping: () => JobHousekeeping): void {
  describe('housekeeping', () => {
    // A day long before any other test's jobs expire: the store may hold theirs too.
    const T0 = Date.parse('2020-01-01T00:00:00.000Z') / 1000;
    const at = (seconds: number) => new Date((T0 + seconds) * 1000).toISOString();
    const shortLived = (): JobRecord => ({ ...newJob(), created_at: at(0), expires_at: T0 + 100 });

    it('finds the jobs past their expiry, never a running one, and counts an end from the end', async () => {
      const [jobs, house] = [store(), housekeeping()];
      const [pending, running, ended] = [shortLived(), shortLived(), shortLived()];
      for (const job of [pending, running, ended]) await jobs.create(job);
      await jobs.transition(running.job_id, ['pending'], 'running', at(10));
      await jobs.transition(ended.job_id, ['pending'], 'failed', at(50));
      const ids = (jobs: { job_id: string }[]) => jobs.map((job) => job.job_id);
      expect(ids(await house.activeJobs())).toEqual(expect.arrayContaining([pending.job_id, running.job_id]));
      expect(ids(await house.activeJobs())).not.toContain(ended.job_id);
      const expired = await house.expiredJobs(T0 + 120);
      expect(expired).toContain(pending.job_id);
      expect(expired).not.toContain(running.job_id);
      expect(expired).not.toContain(ended.job_id);
      expect(await house.expiredJobs(T0 + 150)).toContain(ended.job_id);
      expect(await house.expiredJobs(T0 + 1_000_000)).not.toContain(running.job_id);
    });

    it('deletes a job with its iterations, and an expired iteration only once its job is gone', async () => {
      const [jobs, house] = [store(), housekeeping()];
      const [job, never] = [shortLived(), shortLived()];
      await jobs.create(job);
      await jobs.recordIteration(succeeded(job, 0), T0 + 60);
      await jobs.recordIteration(succeeded(never, 0), T0 + 60);
      await house.deleteExpiredItems(T0 + 120);
      expect(await jobs.getIteration(job.job_id, 0)).toBeDefined();
      expect(await jobs.getIteration(never.job_id, 0)).toBeUndefined();
      expect(await house.deleteJob(job.job_id)).toBe(2);
      expect(await jobs.get(job.job_id)).toBeUndefined();
      expect(await jobs.getIteration(job.job_id, 0)).toBeUndefined();
    });
  });
}
