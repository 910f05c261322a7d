import { mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import S3rver from 's3rver';
import type { ClientOptions } from '../adapters/aws-clients.ts';
import { createTableInput } from '../adapters/jobs-table.ts';
import { closeDynaliteIterators } from './dynalite-iterators.ts';

export const TABLE_NAME = 'sdbatch-jobs';
export const BUCKET_NAME = 'sdbatch-images';

export interface EmbeddedStores {
  clients: ClientOptions;
  tableName: string;
  bucketName: string;
  /** The stores' own V8 heap, bytes, when they run on a thread of their own. */
  heap?: () => Promise<{ used: number; total: number }>;
  close(): Promise<void>;
}

/** Where the stores listen on loopback; 0 takes a free port. */
export interface StorePorts {
  dynamoDb: number;
  s3: number;
}

/** dynalite and s3rver on loopback, persisted under `dataDir`, reached through the real SDK. */
export async function startEmbeddedStores(
  dataDir: string,
  ports: StorePorts = { dynamoDb: 0, s3: 0 },
): Promise<EmbeddedStores> {
  await mkdir(join(dataDir, 'dynamodb'), { recursive: true });
  await mkdir(join(dataDir, 's3'), { recursive: true });
  closeDynaliteIterators();

  const dynamo = dynalite({ path: join(dataDir, 'dynamodb'), createTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    dynamo.once('error', reject);
    dynamo.listen(ports.dynamoDb, '127.0.0.1', () => resolve());
  });
  const dynamoPort = (dynamo.address() as AddressInfo).port;

  const s3 = new S3rver({
    address: '127.0.0.1',
    port: ports.s3,
    directory: join(dataDir, 's3'),
    silent: true,
    vhostBuckets: false,
    configureBuckets: [{ name: BUCKET_NAME }],
  });
  const s3Address = await s3.run();

  const clients: ClientOptions = {
    region: 'us-east-1',
    dynamoDbEndpoint: `http://127.0.0.1:${dynamoPort}`,
    s3Endpoint: `http://127.0.0.1:${s3Address.port}`,
    // s3rver accepts only these; dynalite accepts any.
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  };
  await ensureTable(clients);

  return {
    clients,
    tableName: TABLE_NAME,
    bucketName: BUCKET_NAME,
    close: async () => {
      await s3.close();
      await new Promise<void>((resolve) => dynamo.close(() => resolve()));
    },
  };
}

async function ensureTable(clients: ClientOptions): Promise<void> {
  const db = new DynamoDBClient({
    region: clients.region,
    endpoint: clients.dynamoDbEndpoint,
    credentials: clients.credentials,
  });
  try {
    await db.send(new DescribeTableCommand({ TableName: TABLE_NAME }));
  } catch (error) {
    if ((error as Error).name !== 'ResourceNotFoundException') throw error;
    await db.send(new CreateTableCommand(createTableInput(TABLE_NAME)));
    // dynalite makes a new table ACTIVE on a timer: until then it answers "not found".
    await waitUntilTableExists(
      { client: db, maxWaitTime: 30, minDelay: 0.05, maxDelay: 0.5 },
      { TableName: TABLE_NAME },
    );
  } finally {
    db.destroy();
  }
}
