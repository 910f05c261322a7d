import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { nameTransientErrors } from './transient-aws-errors.ts';

/**
 * Endpoints and credentials for the embedded stack (dynalite, s3rver); in Lambda nothing is
 * passed and the SDK's defaults apply.
 */
export interface ClientOptions {
  region?: string;
  dynamoDbEndpoint?: string;
  s3Endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Tries of one request, the first included (MAX_ATTEMPTS unless a test shortens it). */
  maxAttempts?: number;
  /** Optional instrumentation (the benchmark counts requests): called once with each client built. */
  instrument?: (service: 'DynamoDB' | 'S3', client: DynamoDBClient | S3Client) => void;
}

/**
 * Tries of one request: the SDK's standard retry mode backs off (with jitter) on throttles, 5xx
 * and broken connections; what still fails after these surfaces as TransientAwsError
 * (transient-aws-errors.ts), which the state machine retries with a longer back-off.
 */
const MAX_ATTEMPTS = 5;

export function documentClient(options: ClientOptions = {}): DynamoDBDocumentClient {
  const client = new DynamoDBClient({
    region: options.region,
    endpoint: options.dynamoDbEndpoint,
    credentials: options.credentials,
    maxAttempts: options.maxAttempts ?? MAX_ATTEMPTS,
  });
  nameTransientErrors(client);
  options.instrument?.('DynamoDB', client);
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

export function s3Client(options: ClientOptions = {}): S3Client {
  const client = new S3Client({
    region: options.region,
    endpoint: options.s3Endpoint,
    credentials: options.credentials,
    // s3rver serves path-style URLs only; AWS accepts both.
    forcePathStyle: options.s3Endpoint !== undefined,
    maxAttempts: options.maxAttempts ?? MAX_ATTEMPTS,
  });
  nameTransientErrors(client);
  options.instrument?.('S3', client);
  return client;
}
