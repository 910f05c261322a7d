import { statfs } from 'node:fs/promises';
import { type Clock, systemClock } from '../core/clock.ts';
import type { EmbeddedStores, StorePorts } from './embedded-stores.ts';
import { isOutOfSpace, StoreHealth, storesStoppedMessage } from './store-health.ts';
import { type StoresThread, type StoresThreadOptions, startStoresThread } from './stores-thread.ts';

/** What the stack does around a stop of the stores: what needs them stops, then resumes as a start does. */
export interface StoresWork {
  /** The stores stopped: end what writes to them (the executions), as a crash would. */
  pause(): Promise<void>;
  /** The stores are back: resume unfinished jobs as a fresh start does; their ids. */
  resume(): Promise<string[]>;
}

export interface SupervisionOptions {
  /** What every stores thread is started with (the IAM authorizer the tests name). */
  threadOptions?: Pick<StoresThreadOptions, 'authorizerModule'>;
  /** Starts a stores thread on `dataDir` (startStoresThread); tests put a fake in. */
  startThread?: (dataDir: string, options: StoresThreadOptions) => Promise<StoresThread>;
  /** Bytes free for the data dir (statfs); tests say how full it is. */
  freeBytes?: (dataDir: string) => Promise<number>;
  /** The probe's timer; tests tick it by hand. */
  clock?: Pick<Clock, 'every'>;
  /** How often a stopped stores' data dir is looked at (5 s). */
  probeMs?: number;
  /** Free space a full data dir needs before the stores start again on it (16 MiB). */
  minFreeBytes?: number;
  /**
   * Troubles (a stop, or a failed restart) for a reason other than space the stack gets over by
   * restarting the stores (3); at the next it gives up. They are not forgotten: stores that stop
   * again and again for a reason no one has named would otherwise be restarted forever.
   */
  maxTroubles?: number;
  /** Where the one-line reports go (stderr). */
  log?: (line: string) => void;
}

export interface SupervisedStores extends EmbeddedStores {
  health: StoreHealth;
  /** Settles with its one-line reason once the stores cannot be brought back: the stack must stop. */
  gaveUp: Promise<string>;
  /** Given once the stack's work exists; until then a stop pauses and resumes nothing. */
  attach(work: StoresWork): void;
  /** Tests: the current thread dies of this error, as of an emulator's uncaught write error. */
  injectFault: StoresThread['injectFault'];
}

const portOf = (endpoint: string | undefined) => Number(new URL(endpoint ?? '').port);

/**
 * The stores thread, watched: when it dies (an emulator's write failed, for lack of space say),
 * the stack says why in one line, tool calls answer with that reason, the executions stop, and
 * the data dir is looked at every few seconds. Once there is room the stores start again on the
 * same ports (every client built for them still reaches them) and unfinished jobs resume as a
 * fresh start resumes them; what was stored stays (LevelDB replays its log, s3rver's files stay).
 * If the stores cannot be started again, `gaveUp` settles and the stack stops.
 */
export async function superviseStores(
  dataDir: string,
  options: SupervisionOptions = {},
): Promise<SupervisedStores> {
  const {
    threadOptions = {},
    startThread = startStoresThread,
    freeBytes = async (dir: string) => {
      const stats = await statfs(dir);
      return stats.bavail * stats.bsize;
    },
    clock = systemClock,
    probeMs = 5_000,
    minFreeBytes = 16 * 1024 * 1024,
    maxTroubles = 3,
    log = (line: string) => console.error(line),
  } = options;
  const health = new StoreHealth();
  const gaveUp = Promise.withResolvers<string>();
  let work: StoresWork | undefined;
  let cause: unknown;
  let paused = Promise.resolve();
  let stopProbe: (() => void) | undefined;
  let probing = false;
  let troubles = 0;
  let closing = false;

  const giveUp = (error: unknown) => {
    stopProbe?.();
    gaveUp.resolve(
      `sdbatch cannot bring its stores back (${(error as Error).message}); stopping. Jobs and images stay in ${dataDir}: the next start resumes unfinished jobs.`,
    );
  };
  /** A stop or a failed restart: true while the stack still tries to get over it. */
  const bearable = (error: unknown) => isOutOfSpace(error) || ++troubles <= maxTroubles;

  const failed = (error: Error) => {
    if (closing) return;
    cause = error;
    const reason = storesStoppedMessage(error, dataDir);
    health.markDown(reason);
    log(reason);
    paused = (work?.pause() ?? Promise.resolve()).catch((e) => log(`pausing the jobs failed: ${e}`));
    if (!bearable(error)) return giveUp(error);
    // The probe never rejects; a test's clock awaits what it returns.
    stopProbe ??= clock.every(probeMs, () => probe());
  };

  let thread = await startThread(dataDir, { ...threadOptions, onFailure: failed });
  const ports: StorePorts = {
    dynamoDb: portOf(thread.clients.dynamoDbEndpoint),
    s3: portOf(thread.clients.s3Endpoint),
  };

  const probe = async () => {
    if (probing || closing || !health.down) return;
    probing = true;
    try {
      if (isOutOfSpace(cause) && (await freeBytes(dataDir)) < minFreeBytes) return;
      try {
        thread = await startThread(dataDir, { ...threadOptions, ports, onFailure: failed });
      } catch (error) {
        cause = error;
        if (!bearable(error)) giveUp(error);
        return;
      }
      stopProbe?.();
      stopProbe = undefined;
      await paused;
      // Up before the resume: it reads and writes through the guarded clients.
      health.markUp();
      const resumed = (await work?.resume()) ?? [];
      log(
        `sdbatch's stores are back${resumed.length > 0 ? `; resumed ${resumed.length} unfinished job(s): ${resumed.join(', ')}` : ''}.`,
      );
    } catch (error) {
      // The free space unreadable, or the resume failed (the stores stopped again under it, say:
      // that stop is handled on its own).
      log(`bringing sdbatch's stores back: ${(error as Error).message}`);
    } finally {
      probing = false;
    }
  };

  return {
    clients: thread.clients,
    // Kept in the data dir: a restarted thread has the same keys.
    credentials: thread.credentials,
    tableName: thread.tableName,
    bucketName: thread.bucketName,
    health,
    gaveUp: gaveUp.promise,
    attach: (w) => {
      work = w;
    },
    injectFault: (error) => thread.injectFault(error),
    heap: () => thread.heap(),
    close: async () => {
      closing = true;
      stopProbe?.();
      await thread.close();
    },
  };
}
