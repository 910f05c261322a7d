import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/**
 * Endpoints and credentials for the embedded stack (dynalite, s3rver); in Lambda nothing is
 * passed and the SDK's defaults apply.
 */
export interface ClientOptions {
  region?: string;
  dynamoDbEndpoint?: string;
  s3Endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Optional instrumentation (the benchmark counts requests): called once with each client built. */
  instrument?: (service: 'DynamoDB' | 'S3', client: DynamoDBClient | S3Client) => void;
}

export function documentClient(options: ClientOptions = {}): DynamoDBDocumentClient {
  const client = new DynamoDBClient({
    region: options.region,
    endpoint: options.dynamoDbEndpoint,
    credentials: options.credentials,
  });
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
  });
  options.instrument?.('S3', client);
  return client;
}
