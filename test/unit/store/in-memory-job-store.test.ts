import { describe } from 'vitest';
import { InMemoryJobStore } from '../../support/in-memory-job-store.ts';
import { jobStoreBehaviour } from '../../support/job-store-behaviour.ts';

describe('InMemoryJobStore', () => {
  jobStoreBehaviour(() => new InMemoryJobStore());
});
