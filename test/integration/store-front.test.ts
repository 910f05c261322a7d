import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { DeleteCommand, GetCommand, PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { documentClient, s3Client } from '../../adapters/aws-clients.ts';
import { S3ImageStore } from '../../adapters/s3-image-store.ts';
import { type EmbeddedStores, startEmbeddedStores, storeClients } from '../../local/embedded-stores.ts';
import { CREDENTIALS_FILE } from '../../local/store-credentials.ts';
import { createAuthorizer } from '../support/iam-authorizer.ts';
import { tempDir } from '../support/temp-dir.ts';

let dir: Awaited<ReturnType<typeof tempDir>>;
let stores: EmbeddedStores;
beforeAll(async () => {
  dir = await tempDir();
  stores = await startEmbeddedStores(dir.path, { authorize: createAuthorizer() });
});
afterAll(async () => {
  await stores.close();
  await dir.remove();
});

const KEY = 'jobs/job_20261207_frontfront/000-0.png';
const status = async (url: string, init?: RequestInit) => (await fetch(url, init)).status;
const errorName = (promise: Promise<unknown>) =>
  promise.then(
    () => 'no error',
    (error: Error) => error.name,
  );

describe('the embedded stores behind their front', () => {
  it('keep the data dir, its stores and the role keys to their owner', async () => {
    expect((await stat(dir.path)).mode & 0o777).toBe(0o700);
    for (const sub of ['dynamodb', 's3']) expect((await stat(join(dir.path, sub))).mode & 0o777).toBe(0o700);
    expect((await stat(join(dir.path, CREDENTIALS_FILE))).mode & 0o777).toBe(0o600);
  });

  it('refuse unsigned S3 requests: GET, PUT over an image, DELETE and listing', async () => {
    const images = new S3ImageStore(s3Client(stores.clients), stores.bucketName);
    await images.put({
      key: KEY,
      body: new Uint8Array([1, 2, 3]),
      contentType: 'image/png',
      expiresAt: Date.now(),
    });
    const object = `${stores.clients.s3Endpoint}/${stores.bucketName}/${KEY}`;
    expect(await status(object)).toBe(403);
    expect(await status(object, { method: 'PUT', body: 'overwritten' })).toBe(403);
    expect(await status(object, { method: 'DELETE' })).toBe(403);
    expect(await status(`${stores.clients.s3Endpoint}/${stores.bucketName}?list-type=2`)).toBe(403);
    expect(await images.get(KEY)).toEqual(new Uint8Array([1, 2, 3]));
  });

  it('check a presigned URL as S3 does: its key, its signature and its expiry', async () => {
    const now = Date.now();
    const gateway = s3Client(storeClients(stores, 'Gateway'));
    const { url } = await new S3ImageStore(gateway, stores.bucketName, () => now).presignGet(KEY, 60);
    expect(await status(url)).toBe(200);
    // Another key under the same signature (another job's image), and a forged signature.
    expect(await status(url.replace('000-0.png', '001-0.png'))).toBe(403);
    expect(await status(url.replace(/X-Amz-Signature=[0-9a-f]+/, `X-Amz-Signature=${'0'.repeat(64)}`))).toBe(
      403,
    );
    // Signed two minutes ago for one minute: expired.
    const { url: old } = await new S3ImageStore(gateway, stores.bucketName, () => now - 120_000).presignGet(
      KEY,
      60,
    );
    const answer = await fetch(old);
    expect(answer.status).toBe(403);
    expect(await answer.text()).toContain('Request has expired');
  });

  it('refuse DynamoDB requests unsigned or signed with keys not the stack’s: no caller can write a token row', async () => {
    const digest = createHash('sha256').update('mytoken').digest('hex');
    const row = {
      TableName: stores.tableName,
      Item: { pk: `TOKEN#${digest}`, sk: 'TOKEN', name: 'intruder' },
    };
    const unsigned = await fetch(stores.clients.dynamoDbEndpoint as string, {
      method: 'POST',
      headers: { 'x-amz-target': 'DynamoDB_20120810.PutItem', 'content-type': 'application/x-amz-json-1.0' },
      body: JSON.stringify({ ...row, Item: { pk: { S: row.Item.pk }, sk: { S: 'TOKEN' } } }),
    });
    expect(unsigned.status).toBe(400);
    expect(await unsigned.text()).toContain('MissingAuthenticationTokenException');

    const stranger = documentClient({
      ...stores.clients,
      credentials: {
        accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
        secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      },
    });
    expect(await errorName(stranger.send(new PutCommand(row)))).toBe('UnrecognizedClientException');
    const guessed = documentClient({
      ...stores.clients,
      credentials: { ...stores.credentials.Gateway, secretAccessKey: 'x'.repeat(40) },
    });
    expect(await errorName(guessed.send(new PutCommand(row)))).toBe('InvalidSignatureException');
    expect(await errorName(guessed.send(new ScanCommand({ TableName: stores.tableName })))).toBe(
      'InvalidSignatureException',
    );
    const own = documentClient(stores.clients);
    expect(
      (await own.send(new GetCommand({ TableName: stores.tableName, Key: { pk: row.Item.pk, sk: 'TOKEN' } })))
        .Item,
    ).toBeUndefined();
  });

  it('hold each role to its synthesized policy: the gateway deletes token digests only', async () => {
    const gateway = documentClient(storeClients(stores, 'Gateway'));
    const key = (pk: string) => ({ TableName: stores.tableName, Key: { pk, sk: 'X' } });
    expect(await errorName(gateway.send(new DeleteCommand(key('TOKEN#abc'))))).toBe('no error');
    expect(await errorName(gateway.send(new DeleteCommand(key('JOB#job_20261207_frontfront'))))).toBe(
      'AccessDeniedException',
    );
    // The finalize task has no S3 grant at all.
    const finalize = s3Client(storeClients(stores, 'FinalizeJob'));
    expect(
      await errorName(
        finalize.send(new PutObjectCommand({ Bucket: stores.bucketName, Key: KEY, Body: 'x' })),
      ),
    ).toBe('AccessDenied');
  });

  it('answer a missing object 403 to a role that may not list the bucket, 404 to one that may', async () => {
    const head = (role: 'RenderContactSheet' | 'GenerateImages') =>
      s3Client(storeClients(stores, role))
        .send(
          new HeadObjectCommand({ Bucket: stores.bucketName, Key: 'jobs/job_20261207_frontfront/999-0.png' }),
        )
        .catch((error: { $metadata: { httpStatusCode: number } }) => error.$metadata.httpStatusCode);
    expect(await head('RenderContactSheet')).toBe(403);
    expect(await head('GenerateImages')).toBe(404);
  });
});
