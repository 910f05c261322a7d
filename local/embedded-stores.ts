import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
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
import { STACK_ROLE, type StoreRole } from '../lambdas/function-roles.ts';
import { closeDynaliteIterators } from './dynalite-iterators.ts';
import { loadRoleCredentials, type RoleCredentials } from './store-credentials.ts';
import { type Authorize, startStoreFront } from './store-front/front.ts';
import { LOCAL_ACCOUNT } from './store-front/requested-actions.ts';

export const TABLE_NAME = 'sdbatch-jobs';
export const BUCKET_NAME = 'sdbatch-images';

export interface EmbeddedStores {
  /** The stores' endpoints (the front's) with the stack's own keys: what AWS itself does here. */
  clients: ClientOptions;
  /** Every role's keys; `storeClients` gives a role's client options. */
  credentials: RoleCredentials;
  tableName: string;
  bucketName: string;
  /** The stores' own V8 heap, bytes, when they run on a thread of their own. */
  heap?: () => Promise<{ used: number; total: number }>;
  close(): Promise<void>;
}

/** A role's client options: the front's endpoints, signed with that role's keys. */
export const storeClients = (
  stores: Pick<EmbeddedStores, 'clients' | 'credentials'>,
  role: StoreRole,
): ClientOptions => ({
  ...stores.clients,
  credentials: stores.credentials[role],
});

/** Where the stores' front listens on loopback; 0 takes a free port. */
export interface StorePorts {
  dynamoDb: number;
  s3: number;
}

export interface StoresOptions {
  /** Evaluates each role's requests against its IAM policy (the tests pass one). */
  authorize?: Authorize;
  /** The front's ports: a restart takes its predecessor's, so clients built for it still reach it. */
  ports?: StorePorts;
}

/**
 * dynalite and s3rver, persisted under `dataDir`, reached through the real SDK and only through
 * the front (local/store-front/), which checks every request's signature (and, with `authorize`,
 * its role's policy). The emulators themselves listen on Unix sockets in a folder of mode 0700.
 */
export async function startEmbeddedStores(
  dataDir: string,
  options: StoresOptions = {},
): Promise<EmbeddedStores> {
  // Only this user may enter the data dir and its stores' folders.
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  await chmod(dataDir, 0o700);
  for (const dir of ['dynamodb', 's3']) await mkdir(join(dataDir, dir), { recursive: true, mode: 0o700 });
  closeDynaliteIterators();
  const credentials = await loadRoleCredentials(dataDir);
  // A short path: a Unix socket's name is limited to about 100 bytes, a data dir's is not.
  const sockets = await mkdtemp(join(tmpdir(), 'sdbatch-stores-'));

  const dynamo = dynalite({ path: join(dataDir, 'dynamodb'), createTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    dynamo.once('error', reject);
    dynamo.listen(join(sockets, 'dynamodb.sock'), () => resolve());
  });
  const s3 = new S3rver({
    directory: join(dataDir, 's3'),
    silent: true,
    vhostBuckets: false,
    configureBuckets: [{ name: BUCKET_NAME }],
  });
  await s3.configureBuckets();
  const s3Server: Server = await s3.listen(join(sockets, 's3.sock'));
  s3.httpServer = s3Server;

  const front = await startStoreFront(
    { dynamodb: join(sockets, 'dynamodb.sock'), s3: join(sockets, 's3.sock') },
    {
      credentials,
      authorize: options.authorize,
      ports: options.ports && { dynamodb: options.ports.dynamoDb, s3: options.ports.s3 },
    },
  );
  const clients: ClientOptions = {
    region: LOCAL_ACCOUNT.region,
    dynamoDbEndpoint: front.dynamoDbEndpoint,
    s3Endpoint: front.s3Endpoint,
    credentials: credentials[STACK_ROLE],
  };
  await ensureTable(clients);

  return {
    clients,
    credentials,
    tableName: TABLE_NAME,
    bucketName: BUCKET_NAME,
    close: async () => {
      await front.close();
      await s3.close();
      await new Promise<void>((resolve) => dynamo.close(() => resolve()));
      await rm(sockets, { recursive: true, force: true });
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
