import { isStaleAdmission } from '../../core/admission.ts';
import { InvalidRequestError } from '../../core/errors.ts';
import {
  type ContactSheet,
  type CurrentProgress,
  counterOf,
  expiryFrom,
  type IterationRecord,
  type JobRecord,
  mayReplaceIteration,
  notesToDrop,
} from '../../core/job.ts';
import { isActive, type JobStatus, PROGRESS_STATUS, planTransition } from '../../core/job-status.ts';
import type { PoolOutage } from '../../core/pool/outage.ts';
import type {
  Admission,
  ClientTokenClaim,
  JobHousekeeping,
  JobListQuery,
  JobPage,
  JobStore,
} from '../../core/ports.ts';

const copy = <T>(value: T): T => structuredClone(value);
const listKey = (job: JobRecord) => `${job.created_at}#${job.job_id}`;

/**
 * The job store in memory, for tests of the core: the conditional semantics of the DynamoDB
 * adapter (create-if-absent, transition-if-from, counting an iteration once, admission within a
 * limit), with the rules taken from the core as that adapter takes them. The shared behaviour
 * suite (job-store-behaviour.ts) runs against both.
 */
export class InMemoryJobStore implements JobStore, JobHousekeeping {
  private readonly jobs = new Map<string, JobRecord>();
  private readonly iterations = new Map<string, IterationRecord>();
  /** When each job and iteration may be deleted (DynamoDB's TTL), epoch seconds; none while a job runs. */
  private readonly ttl = new Map<string, number>();
  private readonly admissions = new Map<string, Map<string, number>>();
  private readonly tokens = new Map<string, ClientTokenClaim>();

  private stored(jobId: string): JobRecord {
    const job = this.jobs.get(jobId);
    if (!job) throw new Error(`no job ${jobId}: the write's condition failed`);
    return job;
  }

  async create(job: JobRecord): Promise<boolean> {
    if (this.jobs.has(job.job_id)) return false;
    this.jobs.set(job.job_id, copy(job));
    this.ttl.set(job.job_id, job.expires_at);
    return true;
  }

  async get(jobId: string): Promise<JobRecord | undefined> {
    const job = this.jobs.get(jobId);
    return job && copy(job);
  }

  async transition(jobId: string, from: JobStatus[], to: JobStatus, at: string): Promise<boolean> {
    const plan = planTransition(from, to, at);
    const job = this.jobs.get(jobId);
    if (!job || !from.includes(job.status)) return false;
    Object.assign(job, { status: to }, plan.stamps);
    delete job.current;
    if (plan.starts) this.ttl.delete(jobId);
    if (plan.ends) {
      job.expires_at = expiryFrom(job, Date.parse(at));
      this.ttl.set(jobId, job.expires_at);
      await this.withdraw(job.owner, jobId);
    }
    return true;
  }

  async setCurrent(jobId: string, current: CurrentProgress): Promise<void> {
    const job = this.jobs.get(jobId);
    if (job?.status === PROGRESS_STATUS) job.current = copy(current);
  }

  async setContactSheet(jobId: string, sheet: ContactSheet): Promise<void> {
    this.stored(jobId).contact_sheet = copy(sheet);
  }

  async addNote(jobId: string, note: string): Promise<void> {
    const job = this.stored(jobId);
    const notes = [...(job.notes ?? []), note];
    job.notes = notes.slice(notesToDrop(notes.length));
  }

  async getIteration(jobId: string, iteration: number): Promise<IterationRecord | undefined> {
    const record = this.iterations.get(`${jobId}#${iteration}`);
    return record && copy(record);
  }

  async recordIteration(record: IterationRecord, expiresAt: number): Promise<void> {
    const key = `${record.job_id}#${record.iteration}`;
    const stored = this.iterations.get(key);
    if (mayReplaceIteration(stored)) {
      this.iterations.set(key, copy(record));
      this.ttl.set(key, expiresAt);
    }
    this.count(this.iterations.get(key) as IterationRecord);
  }

  private count(record: IterationRecord): void {
    const job = this.jobs.get(record.job_id);
    if (!job || job.counted?.has(record.iteration)) return;
    job[counterOf(record)] += record.image_count;
    job.counted = new Set([...(job.counted ?? []), record.iteration]);
    job.counted_at = record.finished_at;
    if (record.status === 'succeeded') delete job.outage;
  }

  async listIterations(jobId: string): Promise<IterationRecord[]> {
    return [...this.iterations.values()]
      .filter((record) => record.job_id === jobId)
      .sort((a, b) => a.iteration - b.iteration)
      .map(copy);
  }

  async recordAttempt(
    jobId: string,
    iteration: number,
    hostId?: string,
    outage?: PoolOutage,
  ): Promise<number> {
    const job = this.stored(jobId);
    if (outage) job.outage = copy(outage);
    else delete job.outage;
    // A job stored before jobs carried the maps gets them, as the DynamoDB adapter gives them.
    const attempts = job.attempts ?? {};
    const failedOn = job.failed_on ?? {};
    Object.assign(job, { attempts, failed_on: failedOn });
    const count = (attempts[iteration] ?? 0) + 1;
    attempts[iteration] = count;
    if (hostId !== undefined) failedOn[iteration] = [...(failedOn[iteration] ?? []), hostId];
    return count;
  }

  async markStealing(jobId: string): Promise<void> {
    this.stored(jobId).stealing = true;
  }

  async listByOwner(owner: string, query: JobListQuery): Promise<JobPage> {
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor, owner);
    const all = [...this.jobs.values()]
      .filter((job) => job.owner === owner && (after === undefined || listKey(job) < after))
      .sort((a, b) => (listKey(a) < listKey(b) ? 1 : -1));
    const matching = all.filter((job) => query.status === undefined || job.status === query.status);
    const jobs = matching.slice(0, query.limit);
    const last = jobs.at(-1);
    const more = last !== undefined && all.some((job) => listKey(job) < listKey(last));
    return { jobs: jobs.map(copy), nextCursor: more ? encodeCursor(owner, listKey(last)) : undefined };
  }

  async countActive(owner: string): Promise<number> {
    return this.activeJobIds(owner).length;
  }

  private activeJobIds(owner: string): string[] {
    return [...this.jobs.values()]
      .filter((j) => j.owner === owner && isActive(j.status))
      .map((j) => j.job_id);
  }

  async admit(owner: string, jobId: string, limit: number, at: number): Promise<Admission> {
    let admitted = this.admissions.get(owner);
    if (!admitted) {
      // The owner's first start: the list starts from the jobs already active.
      const active = this.activeJobIds(owner);
      admitted = new Map(active.map((id) => [id, at]));
      this.admissions.set(owner, admitted);
      if (active.length >= limit) return { admitted: false, active: active.length };
      admitted.set(jobId, at);
      return { admitted: true };
    }
    if (!admitted.has(jobId) && admitted.size >= limit) {
      for (const [id, admittedAt] of admitted)
        if (isStaleAdmission(this.jobs.get(id), admittedAt, at)) admitted.delete(id);
      if (admitted.size >= limit) return { admitted: false, active: admitted.size };
    }
    admitted.set(jobId, at);
    return { admitted: true };
  }

  async withdraw(owner: string, jobId: string): Promise<void> {
    this.admissions.get(owner)?.delete(jobId);
  }

  async claimClientToken(claim: ClientTokenClaim): Promise<ClientTokenClaim> {
    const key = JSON.stringify([claim.owner, claim.token]);
    const first = this.tokens.get(key);
    if (first) return { ...claim, jobId: first.jobId, fingerprint: first.fingerprint };
    this.tokens.set(key, copy(claim));
    return claim;
  }

  async activeJobs(): Promise<JobRecord[]> {
    return [...this.jobs.values()].filter((job) => isActive(job.status)).map(copy);
  }

  async expiredJobs(nowSeconds: number): Promise<string[]> {
    return [...this.jobs.keys()].filter((id) => (this.ttl.get(id) ?? Number.POSITIVE_INFINITY) <= nowSeconds);
  }

  async deleteJob(jobId: string): Promise<number> {
    const keys = [...this.iterations.keys()].filter((key) => key.startsWith(`${jobId}#`));
    for (const key of [jobId, ...keys]) this.ttl.delete(key);
    for (const key of keys) this.iterations.delete(key);
    return keys.length + (this.jobs.delete(jobId) ? 1 : 0);
  }

  async deleteExpiredItems(nowSeconds: number): Promise<number> {
    let deleted = 0;
    for (const [key, record] of this.iterations) {
      // An iteration goes with its job, not before it.
      if ((this.ttl.get(key) ?? Number.POSITIVE_INFINITY) > nowSeconds || this.jobs.has(record.job_id))
        continue;
      this.iterations.delete(key);
      this.ttl.delete(key);
      deleted++;
    }
    for (const [key, claim] of this.tokens) {
      if (claim.expiresAt > nowSeconds) continue;
      this.tokens.delete(key);
      deleted++;
    }
    return deleted;
  }
}

const encodeCursor = (owner: string, after: string) =>
  Buffer.from(JSON.stringify({ owner, after })).toString('base64url');

function decodeCursor(cursor: string, owner: string): string {
  try {
    const key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as {
      owner: string;
      after: string;
    };
    if (key.owner !== owner || typeof key.after !== 'string') throw new Error('foreign cursor');
    return key.after;
  } catch {
    throw new InvalidRequestError(
      'cursor: not a cursor this server handed out; omit it to start from the newest job',
    );
  }
}
