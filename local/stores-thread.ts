import { once } from 'node:events';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import type { ClientOptions } from '../adapters/aws-clients.ts';
import { type EmbeddedStores, type StorePorts, startEmbeddedStores } from './embedded-stores.ts';
import type { RoleCredentials } from './store-credentials.ts';
import type { Authorize } from './store-front/front.ts';

/** The stores thread's V8 young generation, MB. */
const STORES_YOUNG_GENERATION_MB = 16;

export interface StoresThreadOptions {
  /**
   * A module whose `createAuthorizer()` returns the IAM evaluation the front applies: loaded in the
   * thread, since a function cannot be passed to it. The tests name one; `npm start` none.
   */
  authorizerModule?: string;
  /** The front's ports: a restart takes its predecessor's, so every client built for it still reaches it. */
  ports?: StorePorts;
  /**
   * Called once if the thread ends after it was ready and before close(): with what it died of
   * (an emulator's write error is uncaught there: dynalite throws LevelDB's, s3rver its file's).
   */
  onFailure?: (error: Error) => void;
}

/** The stores of a thread: what the thread can be told besides close. */
export interface StoresThread extends EmbeddedStores {
  heap: NonNullable<EmbeddedStores['heap']>;
  /** Tests: the thread dies of this error, as of an emulator's uncaught write error. */
  injectFault(error: { message: string; code?: string }): void;
}

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
  options: StoresThreadOptions = {},
): Promise<StoresThread> {
  const worker = new Worker(new URL(import.meta.url), {
    workerData: {
      dataDir,
      authorizerModule: options.authorizerModule,
      ports: options.ports,
    } satisfies ThreadData,
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
  // Watched after ready: an emulator dies on its first failed write, and nothing else would notice.
  let ended = false;
  // Not events.once: it would reject on the thread's 'error'.
  const ending = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  const failed = (error: Error) => {
    if (!ended && !closed) options.onFailure?.(error);
    ended = true;
  };
  // An uncaught error comes as 'error' before 'exit', which then only confirms it.
  worker.on('error', failed);
  worker.on('exit', (code) => failed(new Error(`the stores thread exited with code ${code}`)));
  return {
    ...ready,
    injectFault: (error) => worker.postMessage({ fault: error }),
    heap: async () => {
      const stats = await worker.getHeapStatistics();
      return { used: stats.used_heap_size, total: stats.total_heap_size };
    },
    close: () => {
      closed ??= (async () => {
        if (ended) return;
        worker.postMessage('close');
        await ending;
      })();
      return closed;
    },
  };
}

interface ThreadData extends Pick<StoresThreadOptions, 'authorizerModule' | 'ports'> {
  dataDir: string;
}

if (!isMainThread && parentPort && (workerData as ThreadData | undefined)?.dataDir) {
  const port = parentPort;
  const { dataDir, authorizerModule, ports } = workerData as ThreadData;
  const authorize = authorizerModule
    ? ((await import(authorizerModule)) as { createAuthorizer(): Authorize }).createAuthorizer()
    : undefined;
  const stores = await startEmbeddedStores(dataDir, { authorize, ports });
  const { clients, credentials, tableName, bucketName } = stores;
  port.postMessage({ clients, credentials, tableName, bucketName } satisfies Ready);
  port.on('message', async (message: 'close' | { fault: { message: string; code?: string } }) => {
    if (message === 'close') {
      await stores.close();
      port.close();
      return;
    }
    // Thrown outside any handler, as the emulators' own write errors are: uncaught.
    setImmediate(() => {
      throw Object.assign(new Error(message.fault.message), { code: message.fault.code });
    });
  });
}
