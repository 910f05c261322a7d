import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  paginateListObjectsV2,
  type S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { ImageHousekeeping, ImageStore, PresignedUrl, PutImage } from '../core/ports.ts';

export class S3ImageStore implements ImageStore, ImageHousekeeping {
  private readonly s3: S3Client;
  private readonly bucket: string;
  private readonly now: () => number;

  /** `now` dates the presigned URLs (epoch ms): a test signs in the past rather than waiting. */
  constructor(s3: S3Client, bucket: string, now: () => number = Date.now) {
    this.s3 = s3;
    this.bucket = bucket;
    this.now = now;
  }

  async put(image: PutImage): Promise<void> {
    await this.s3.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: image.key,
        Body: image.body,
        ContentType: image.contentType,
      }),
    );
  }

  async get(key: string): Promise<Uint8Array> {
    const object = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    if (!object.Body) throw new Error(`Object ${key} has no body`);
    return object.Body.transformToByteArray();
  }

  async exists(key: string): Promise<boolean> {
    try {
      await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return true;
    } catch (error) {
      if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404)
        return false;
      throw error;
    }
  }

  async presignGet(key: string, expiresInSeconds: number): Promise<PresignedUrl> {
    const credentials = await this.s3.config.credentials();
    const now = this.now();
    // A minute of margin: a URL that outlives its keys by a second is already dead.
    const keysLeft = credentials.expiration ? (credentials.expiration.getTime() - now) / 1000 - 60 : Infinity;
    const expiresIn = Math.max(1, Math.floor(Math.min(expiresInSeconds, keysLeft)));
    const url = await getSignedUrl(this.s3, new GetObjectCommand({ Bucket: this.bucket, Key: key }), {
      expiresIn,
      signingDate: new Date(now),
    });
    return { url, expiresAt: new Date(now + expiresIn * 1000) };
  }

  async deletePrefix(prefix: string): Promise<number> {
    let deleted = 0;
    for await (const page of this.pages(prefix)) {
      const keys = (page.Contents ?? []).map((o) => ({ Key: o.Key as string }));
      if (keys.length === 0) continue;
      // At most 1,000 keys a page, and DeleteObjects takes up to 1,000.
      await this.s3.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: keys } }));
      deleted += keys.length;
    }
    return deleted;
  }

  async newestUnder(prefix: string): Promise<Map<string, number>> {
    const newest = new Map<string, number>();
    for await (const page of this.pages(prefix)) {
      for (const o of page.Contents ?? []) {
        const name = String(o.Key).slice(prefix.length).split('/')[0] as string;
        const at = (o.LastModified?.getTime() ?? 0) / 1000;
        newest.set(name, Math.max(newest.get(name) ?? 0, at));
      }
    }
    return newest;
  }

  private pages(prefix: string) {
    return paginateListObjectsV2({ client: this.s3 }, { Bucket: this.bucket, Prefix: prefix });
  }
}
