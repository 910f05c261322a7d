import { describe } from 'vitest';
import { InMemoryJobStore } from '../../support/in-memory-job-store.ts';
import { housekeepingBehaviour, jobStoreBehaviour } from '../../support/job-store-behaviour.ts';

describe('InMemoryJobStore', () => {
  let store = new InMemoryJobStore();
  jobStoreBehaviour(() => new InMemoryJobStore());
  housekeepingBehaviour(
    () => {
      store = new InMemoryJobStore();
      return store;
    },
    () => store,
  );
});
