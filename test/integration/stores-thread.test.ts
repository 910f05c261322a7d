import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { documentClient, s3Client } from '../../adapters/aws-clients.ts';
import { type StoresThread, startStoresThread } from '../../local/stores-thread.ts';
import { tempDir } from '../support/temp-dir.ts';

let dir: Awaited<ReturnType<typeof tempDir>>;
const threads: StoresThread[] = [];
beforeAll(async () => {
  dir = await tempDir();
});
afterAll(async () => {
  for (const thread of threads) await thread.close();
  await dir.remove();
});

describe('the stores thread', () => {
  it('reports the error it died of once ready, and starts again on the same ports with what was stored', async () => {
    const died = Promise.withResolvers<Error>();
    const first = await startStoresThread(dir.path, { onFailure: died.resolve });
    threads.push(first);
    const db = documentClient(first.clients);
    const s3 = s3Client(first.clients);
    await db.send(new PutCommand({ TableName: first.tableName, Item: { pk: 'JOB#kept', sk: 'JOB', n: 1 } }));
    await s3.send(new PutObjectCommand({ Bucket: first.bucketName, Key: 'jobs/kept/0.png', Body: 'png' }));

    // As s3rver's file write throws it when the disk is full: uncaught, in the thread.
    first.injectFault({ code: 'ENOSPC', message: 'ENOSPC: no space left on device, write' });
    const error = await died.promise;
    expect(error.message).toBe('ENOSPC: no space left on device, write');
    expect((error as { code?: string }).code).toBe('ENOSPC');
    await expect(
      db.send(new GetCommand({ TableName: first.tableName, Key: { pk: 'JOB#kept', sk: 'JOB' } })),
    ).rejects.toThrow(/ECONNREFUSED/);

    const port = (url?: string) => Number(new URL(url ?? '').port);
    const second = await startStoresThread(dir.path, {
      ports: { dynamoDb: port(first.clients.dynamoDbEndpoint), s3: port(first.clients.s3Endpoint) },
    });
    threads.push(second);
    expect(second.clients).toEqual(first.clients);
    // The first thread's clients reach the second: LevelDB reopened its files, s3rver's are there.
    const item = await db.send(
      new GetCommand({ TableName: first.tableName, Key: { pk: 'JOB#kept', sk: 'JOB' } }),
    );
    expect(item.Item).toEqual({ pk: 'JOB#kept', sk: 'JOB', n: 1 });
    const object = await s3.send(new GetObjectCommand({ Bucket: first.bucketName, Key: 'jobs/kept/0.png' }));
    expect(await object.Body?.transformToString()).toBe('png');
    db.destroy();
    s3.destroy();
  });

  it('reports nothing when it ends because it was closed', async () => {
    const own = await tempDir();
    const failures: Error[] = [];
    const thread = await startStoresThread(own.path, { onFailure: (error) => failures.push(error) });
    await thread.close();
    await own.remove();
    expect(failures).toEqual([]);
  });
});
