import { CreateTableCommand, waitUntilTableExists } from '@aws-sdk/client-dynamodb';
import { PutCommand, QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { documentClient } from '../../adapters/aws-clients.ts';
import { DynamoDbJobHousekeeping } from '../../adapters/dynamodb-job-housekeeping.ts';
import { DynamoDbJobStore } from '../../adapters/dynamodb-job-store.ts';
import { createTableInput, JOBS_TABLE } from '../../adapters/jobs-table.ts';
import type { JobRecord } from '../../core/job.ts';
import { closeDynaliteIterators } from '../../local/dynalite-iterators.ts';
import { type EmbeddedStores, startEmbeddedStores } from '../../local/embedded-stores.ts';
import {
  housekeepingBehaviour,
  jobStoreBehaviour,
  newJob,
  succeeded,
} from '../support/job-store-behaviour.ts';
import { tempDir } from '../support/temp-dir.ts';

let stores: EmbeddedStores;
let dir: Awaited<ReturnType<typeof tempDir>>;
let jobs: DynamoDbJobStore;

beforeAll(async () => {
  dir = await tempDir();
  stores = await startEmbeddedStores(dir.path);
  jobs = new DynamoDbJobStore(documentClient(stores.clients), stores.tableName);
});
afterAll(async () => {
  await stores.close();
  await dir.remove();
});

describe('DynamoDbJobStore against dynalite', () => {
  jobStoreBehaviour(() => jobs);
  housekeepingBehaviour(
    () => jobs,
    () => new DynamoDbJobHousekeeping(documentClient(stores.clients), stores.tableName),
  );

  it('counts a success stored by a worker that died before counting it', async () => {
    const job = newJob();
    await jobs.create(job);
    // The first write of recordIteration, alone: the iteration item without the counter update.
    const { expires_at: ttl } = job;
    await documentClient(stores.clients).send(
      new PutCommand({
        TableName: stores.tableName,
        Item: { pk: `JOB#${job.job_id}`, sk: 'ITER#002', ttl, ...succeeded(job, 2) },
      }),
    );
    expect((await jobs.get(job.job_id))?.completed_images).toBe(0);
    await jobs.recordIteration(succeeded(job, 2), ttl);
    await jobs.recordIteration(succeeded(job, 2), ttl);
    const after = await jobs.get(job.job_id);
    expect(after?.completed_images).toBe(2);
    expect([...(after?.counted ?? [])]).toEqual([2]);
  });
});

describe("a caller's admissions", () => {
  it('writes the same small items for the 300th active job as for the first', async () => {
    const db = documentClient(stores.clients);
    const owner = `many-${Date.now()}`;
    const sizes: number[] = [];
    for (let i = 0; i < 300; i++) {
      const job = newJob();
      expect(await jobs.admit(owner, job.job_id, 1000, Date.now())).toEqual({ admitted: true });
      if (i === 0 || i === 299) {
        const { Items = [] } = await db.send(
          new QueryCommand({
            TableName: stores.tableName,
            KeyConditionExpression: 'pk = :pk',
            ExpressionAttributeValues: { ':pk': `OWNER#${owner}` },
          }),
        );
        // The largest item an admission writes: the counter or a marker, never a list of jobs.
        sizes.push(Math.max(...Items.map((item) => JSON.stringify(item).length)));
      }
    }
    expect(sizes[1]).toBe(sizes[0]);
    expect(sizes[1]).toBeLessThan(120);
  });
});

describe('active jobs count', () => {
  const ownedBy = (owner: string): JobRecord => ({ ...newJob(), owner });
  const at = '2026-11-24T10:00:00.000Z';

  it('keeps the active jobs in the sparse index, and nothing else', async () => {
    const [a, b, c] = [ownedBy('carol'), ownedBy('carol'), ownedBy('carol')];
    for (const job of [a, b, c]) await jobs.create(job as JobRecord);
    await jobs.transition(b?.job_id as string, ['pending'], 'running', at);
    await jobs.transition(c?.job_id as string, ['pending'], 'cancelled', at);
    await jobs.transition(b?.job_id as string, ['running'], 'completed', at);
    // Ended jobs leave the index: its keys are the active jobs and nothing else.
    const { Items = [] } = await documentClient(stores.clients).send(
      new ScanCommand({ TableName: stores.tableName, IndexName: JOBS_TABLE.activeIndex.name }),
    );
    const carols = Items.filter((item) => item.active_owner_pk === 'OWNER#carol').map((item) => item.pk);
    expect(carols).toEqual([`JOB#${a?.job_id}`]);
  });

  it('still counts on a table made before the active index existed', async () => {
    const legacyTable = 'sdbatch-jobs-legacy';
    const input = createTableInput(legacyTable);
    const db = documentClient(stores.clients);
    await db.send(
      new CreateTableCommand({
        ...input,
        GlobalSecondaryIndexes: input.GlobalSecondaryIndexes?.filter(
          (index) => index.IndexName === JOBS_TABLE.ownerIndex.name,
        ),
      }),
    );
    // dynalite makes a new table ACTIVE on a timer, later still on a busy machine.
    await waitUntilTableExists(
      { client: db, maxWaitTime: 30, minDelay: 0.05, maxDelay: 0.5 },
      { TableName: legacyTable },
    );
    const legacy = new DynamoDbJobStore(db, legacyTable);
    const [a, b] = [ownedBy('erin'), ownedBy('erin')];
    await legacy.create(a);
    await legacy.create(b);
    await legacy.transition(b.job_id, ['pending'], 'failed', at);
    expect(await legacy.countActive('erin')).toBe(1);
  });
});

describe('listing through the owner index', () => {
  it('reads whole jobs from the table, while the index holds only keys and status', async () => {
    const owner = `lister-${Date.now()}`;
    await jobs.create({ ...newJob(), owner });
    const index = await documentClient(stores.clients).send(
      new QueryCommand({
        TableName: stores.tableName,
        IndexName: JOBS_TABLE.ownerIndex.name,
        KeyConditionExpression: 'owner_pk = :o',
        ExpressionAttributeValues: { ':o': `OWNER#${owner}` },
      }),
    );
    expect(Object.keys(index.Items?.[0] ?? {}).sort()).toEqual([
      'owner_pk',
      'owner_sk',
      'pk',
      'sk',
      'status',
    ]);
    expect((await jobs.listByOwner(owner, { limit: 2 })).jobs[0]?.params).toEqual(newJob().params);
  });
});

describe('dynalite beneath the store', () => {
  it('closes the LevelDB iterator of every query, read to the end or cut short by a limit', async () => {
    const job = newJob();
    await jobs.create(job);
    await Promise.all([0, 1, 2].map((i) => jobs.recordIteration(succeeded(job, i), job.expires_at)));
    const spies = closeDynaliteIterators().map((common) =>
      vi.spyOn(common as { close(): Promise<void> }, 'close'),
    );
    const closed = () => spies.reduce((n, spy) => n + spy.mock.calls.length, 0);
    try {
      expect(await jobs.listIterations(job.job_id)).toHaveLength(3);
      expect((await jobs.listByOwner(job.owner, { limit: 1 })).jobs).toHaveLength(1);
      // dynalite closes a stream's iterator as the stream ends, which may be just after its answer.
      await vi.waitFor(() => expect(closed()).toBeGreaterThanOrEqual(2));
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
  });
});
