import type { JobStore } from '../core/ports.ts';

/**
 * The gateway's view of the job store: concurrent reads of one job share a single request.
 *
 * Many assistants polling the same job at once would otherwise each cost a table read; a caller
 * joining a read already in flight gets an answer at most one read's latency old, which is
 * fresher than any polling interval. Nothing is kept once a read settles, so there is no cache
 * to go stale, and a write made through this store drops the shared read so that the writer's
 * next read sees its own write.
 */
export function coalesceJobReads(store: JobStore): JobStore {
  const inFlight = new Map<string, ReturnType<JobStore['get']>>();
  const afterWrite =
    <A extends unknown[], R>(write: (jobId: string, ...rest: A) => Promise<R>) =>
    async (jobId: string, ...rest: A): Promise<R> => {
      try {
        return await write(jobId, ...rest);
      } finally {
        inFlight.delete(jobId);
      }
    };

  return {
    create: (job) => store.create(job),
    get(jobId) {
      const shared = inFlight.get(jobId);
      if (shared) return shared;
      const read = store.get(jobId).finally(() => {
        if (inFlight.get(jobId) === read) inFlight.delete(jobId);
      });
      inFlight.set(jobId, read);
      return read;
    },
    transition: afterWrite((jobId, from, to, at) => store.transition(jobId, from, to, at)),
    setCurrent: afterWrite((jobId, current) => store.setCurrent(jobId, current)),
    setContactSheet: afterWrite((jobId, sheet) => store.setContactSheet(jobId, sheet)),
    addNote: afterWrite((jobId, note) => store.addNote(jobId, note)),
    getIteration: (jobId, iteration) => store.getIteration(jobId, iteration),
    recordIteration: async (record, expiresAt) => {
      try {
        await store.recordIteration(record, expiresAt);
      } finally {
        inFlight.delete(record.job_id);
      }
    },
    listIterations: (jobId) => store.listIterations(jobId),
    recordAttempt: afterWrite((jobId, iteration, hostId) => store.recordAttempt(jobId, iteration, hostId)),
    markStealing: afterWrite((jobId) => store.markStealing(jobId)),
    listByOwner: (owner, query) => store.listByOwner(owner, query),
    countActive: (owner) => store.countActive(owner),
    admit: (owner, jobId, limit, at) => store.admit(owner, jobId, limit, at),
    withdraw: (owner, jobId) => store.withdraw(owner, jobId),
    claimClientToken: (claim) => store.claimClientToken(claim),
  };
}
