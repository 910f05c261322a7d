import { once } from 'node:events';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import type { ClientOptions } from '../adapters/aws-clients.ts';
import { type EmbeddedStores, startEmbeddedStores } from './embedded-stores.ts';
import type { RoleCredentials } from './store-credentials.ts';
import type { Authorize } from './store-front/front.ts';

/** The stores thread's V8 young generation, MB. */
const STORES_YOUNG_GENERATION_MB = 16;

interface Ready {
  clients: ClientOptions;
  credentials: RoleCredentials;
  tableName: string;
  bucketName: string;
}

/**
 * dynalite and s3rver on a thread of their own, as DynamoDB and S3 are services of their own:
 * the emulators' work (request parsing, LevelDB, file writes) does not queue behind the
 * gateway's and the workflow's on the main event loop, nor they behind it. The stores are still
 * reached only over HTTP through the SDK, exactly as before.
 */
export async function startStoresThread(
  dataDir: string,
  options: { authorizerModule?: string } = {},
): Promise<EmbeddedStores> {
  const worker = new Worker(new URL(import.meta.url), {
    workerData: { dataDir, authorizerModule: options.authorizerModule } satisfies ThreadData,
    // The emulators hold little (about 30 MB) but allocate fast, per request: left alone, V8 grew
    // this isolate's heap over the first jobs to 160-210 MB, mostly young generation, for some
    // 30 MB of live data. A small nursery keeps it near what it holds; its collections stay cheap,
    // since most of what the emulators allocate dies with its request.
    resourceLimits: { maxYoungGenerationSizeMb: STORES_YOUNG_GENERATION_MB },
  });
  const [ready] = (await Promise.race([
    once(worker, 'message'),
    once(worker, 'error').then(([error]) => Promise.reject(error)),
  ])) as [Ready];
  let closed: Promise<void> | undefined;
  return {
    ...ready,
    heap: async () => {
      const stats = await worker.getHeapStatistics();
      return { used: stats.used_heap_size, total: stats.total_heap_size };
    },
    close: () => {
      closed ??= (async () => {
        const exited = once(worker, 'exit');
        worker.postMessage('close');
        await exited;
      })();
      return closed;
    },
  };
}

interface ThreadData {
  dataDir: string;
  /**
   * A module whose `createAuthorizer()` returns the IAM evaluation the front applies: loaded in this
   * thread, since a function cannot be passed to it. The tests name one; `npm start` none.
   */
  authorizerModule?: string;
}

if (!isMainThread && parentPort && (workerData as ThreadData | undefined)?.dataDir) {
  const port = parentPort;
  const { dataDir, authorizerModule } = workerData as ThreadData;
  const authorize = authorizerModule
    ? ((await import(authorizerModule)) as { createAuthorizer(): Authorize }).createAuthorizer()
    : undefined;
  const stores = await startEmbeddedStores(dataDir, { authorize });
  const { clients, credentials, tableName, bucketName } = stores;
  port.postMessage({ clients, credentials, tableName, bucketName } satisfies Ready);
  port.once('message', async () => {
    await stores.close();
    port.close();
  });
}
