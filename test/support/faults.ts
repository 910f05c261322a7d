import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { type ClientOptions, s3Client } from '../../adapters/aws-clients.ts';

/** Helpers shared by the fault, crash and hostile-input tests. */

export interface StatusData {
  job_id: string;
  status: string;
  completed_images: number;
  failed_images: number;
  total_images: number;
  progress: string;
}

export interface ResultFile {
  url: string;
  key: string;
  seed: number;
  iteration: number;
  index: number;
}

export interface ResultData {
  job_id: string;
  status: string;
  total_images: number;
  completed_images: number;
  files: ResultFile[];
  failures: Array<{ iteration: number; error: string }>;
}

/** Every key under `prefix` in the bucket, read page by page through the real S3 client. */
export async function listObjectKeys(
  clients: ClientOptions,
  bucket: string,
  prefix: string,
): Promise<string[]> {
  const s3 = s3Client(clients);
  const keys: string[] = [];
  try {
    let token: string | undefined;
    do {
      const page = await s3.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const object of page.Contents ?? []) if (object.Key) keys.push(object.Key);
      token = page.NextContinuationToken;
    } while (token);
  } finally {
    s3.destroy();
  }
  return keys;
}

/** The values that occur more than once. */
export function duplicates<T>(values: readonly T[]): T[] {
  const seen = new Set<T>();
  const twice = new Set<T>();
  for (const value of values) (seen.has(value) ? twice : seen).add(value);
  return [...twice];
}

/** Sorted copy of a list of numbers, for comparing multisets. */
export const sortedNumbers = (values: readonly number[]): number[] => [...values].sort((a, b) => a - b);
