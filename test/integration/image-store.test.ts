import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { s3Client } from '../../adapters/aws-clients.ts';
import { S3ImageStore } from '../../adapters/s3-image-store.ts';
import { type EmbeddedStores, startEmbeddedStores } from '../../local/embedded-stores.ts';
import { tempDir } from '../support/temp-dir.ts';

let stores: EmbeddedStores;
let dir: Awaited<ReturnType<typeof tempDir>>;

beforeAll(async () => {
  dir = await tempDir();
  stores = await startEmbeddedStores(dir.path);
});
afterAll(async () => {
  await stores.close();
  await dir.remove();
});

describe('S3ImageStore against s3rver', () => {
  it('never signs past the expiry of its own credentials', async () => {
    const expiration = new Date(Date.now() + 10 * 60 * 1000);
    const s3 = s3Client({
      ...stores.clients,
      credentials: { ...stores.clients.credentials, expiration } as never,
    });
    const images = new S3ImageStore(s3, stores.bucketName);
    const { url, expiresAt } = await images.presignGet('jobs/job_x/000-0.png', 3600);
    const expires = Number(new URL(url).searchParams.get('X-Amz-Expires'));
    expect(expires).toBeLessThanOrEqual(9 * 60);
    expect(expires).toBeGreaterThan(8 * 60);
    expect(expiresAt.getTime()).toBeLessThan(expiration.getTime());
  });

  it('expires: the URL stops working after its lifetime', async () => {
    const images = new S3ImageStore(s3Client(stores.clients), stores.bucketName);
    await images.put({
      key: 'jobs/job_z/000-0.png',
      body: new Uint8Array([1]),
      contentType: 'image/png',
      expiresAt: 0,
    });
    // 2 s, not 1: X-Amz-Date counts whole seconds, so a URL signed late in a second starts its
    // lifetime up to a second early, and a 1 s URL may be dead before its first fetch.
    const { url } = await images.presignGet('jobs/job_z/000-0.png', 2);
    expect((await fetch(url)).status).toBe(200);
    // The same URL signed 2.2 s ago: its lifetime is over, as the first one's will be then.
    const signedEarlier = new S3ImageStore(
      s3Client(stores.clients),
      stores.bucketName,
      () => Date.now() - 2200,
    );
    const { url: lapsed } = await signedEarlier.presignGet('jobs/job_z/000-0.png', 2);
    expect((await fetch(lapsed)).status).toBe(403);
  });

  it('stores an object and hands out a presigned URL that downloads it', async () => {
    const images = new S3ImageStore(s3Client(stores.clients), stores.bucketName);
    const body = new Uint8Array([137, 80, 78, 71, 1, 2, 3]);
    await images.put({ key: 'jobs/job_x/000-0.png', body, contentType: 'image/png', expiresAt: 0 });
    const before = Date.now();
    const { url, expiresAt } = await images.presignGet('jobs/job_x/000-0.png', 60);
    expect(url).toContain('X-Amz-Signature=');
    expect(url).toContain('X-Amz-Expires=60');
    expect(expiresAt.getTime() - before).toBeGreaterThanOrEqual(59_000);
    const response = await fetch(url);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('image/png');
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(body);
  });

  it('overwrites the same key instead of adding a second object', async () => {
    const images = new S3ImageStore(s3Client(stores.clients), stores.bucketName);
    await images.put({
      key: 'jobs/job_y/000-0.png',
      body: new Uint8Array([1]),
      contentType: 'image/png',
      expiresAt: 0,
    });
    await images.put({
      key: 'jobs/job_y/000-0.png',
      body: new Uint8Array([2]),
      contentType: 'image/png',
      expiresAt: 0,
    });
    const response = await fetch((await images.presignGet('jobs/job_y/000-0.png', 60)).url);
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(new Uint8Array([2]));
  });
});
