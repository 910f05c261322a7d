import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { StoresUnavailableError } from '../../../core/errors.ts';
import type { StorePorts } from '../../../local/embedded-stores.ts';
import { isOutOfSpace, StoreHealth } from '../../../local/store-health.ts';
import { type SupervisionOptions, superviseStores } from '../../../local/stores-supervisor.ts';
import type { StoresThread, StoresThreadOptions } from '../../../local/stores-thread.ts';

const DATA_DIR = '/data/sdbatch';
const MIB = 1024 * 1024;
const ENOSPC = { code: 'ENOSPC', message: 'ENOSPC: no space left on device, write' };
/** What dynalite throws when LevelDB cannot write its log. */
const LEVELDB_FULL = {
  code: 'LEVEL_IO_ERROR',
  message: `IO error: ${DATA_DIR}/dynamodb/000003.log: No space left on device`,
};

/**
 * Stores threads that die when told to, as a real one dies of an emulator's uncaught write error
 * (the thread itself is tested in test/integration/stores-thread.test.ts).
 */
class FakeThreads {
  readonly started: Array<StorePorts | undefined> = [];
  /** Errors the next starts throw, in order. */
  readonly refusals: Error[] = [];
  private nextPort = 4000;

  start = async (_dataDir: string, options: StoresThreadOptions): Promise<StoresThread> => {
    this.started.push(options.ports);
    const refusal = this.refusals.shift();
    if (refusal) throw refusal;
    const ports = options.ports ?? { dynamoDb: this.nextPort++, s3: this.nextPort++ };
    return {
      clients: {
        dynamoDbEndpoint: `http://127.0.0.1:${ports.dynamoDb}`,
        s3Endpoint: `http://127.0.0.1:${ports.s3}`,
      },
      credentials: {} as StoresThread['credentials'],
      tableName: 'jobs',
      bucketName: 'images',
      heap: async () => ({ used: 1, total: 2 }),
      close: async () => {},
      injectFault: (fault) =>
        options.onFailure?.(Object.assign(new Error(fault.message), { code: fault.code })),
    };
  };
}

/** A timer ticked by hand; a tick is awaited to its end. */
class ManualTimer {
  private tick: (() => unknown) | undefined;
  every = (_ms: number, tick: () => void) => {
    this.tick = tick;
    return () => {
      this.tick = undefined;
    };
  };
  get running() {
    return this.tick !== undefined;
  }
  async fire() {
    await this.tick?.();
  }
}

async function supervised(options: SupervisionOptions = {}) {
  const threads = new FakeThreads();
  const timer = new ManualTimer();
  const lines: string[] = [];
  const free = { bytes: 0 };
  const work = { paused: 0, resumed: 0 };
  const stores = await superviseStores(DATA_DIR, {
    startThread: threads.start,
    freeBytes: async () => free.bytes,
    clock: timer,
    log: (line) => lines.push(line),
    ...options,
  });
  stores.attach({
    pause: async () => {
      work.paused++;
    },
    resume: async () => {
      work.resumed++;
      return ['job_20261207_aaaaaaaaaa'];
    },
  });
  return { stores, threads, timer, lines, free, work };
}

describe('the supervised stores', () => {
  it('say in one line that the data dir is full, and answer every call with it', async () => {
    const { stores, lines, work } = await supervised();
    stores.injectFault(ENOSPC);

    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^sdbatch's stores stopped: the data dir \/data\/sdbatch is full \(ENOSPC/);
    expect(lines[0]).not.toContain('\n');
    expect(stores.health.down).toBe(lines[0]);
    expect(work.paused).toBe(1);
  });

  it('restart on the same ports once the data dir has room, then resume unfinished jobs', async () => {
    const { stores, threads, timer, lines, free, work } = await supervised({ minFreeBytes: 16 * MIB });
    const clients = stores.clients;
    stores.injectFault(LEVELDB_FULL);
    expect(stores.health.down).toMatch(/is full \(ENOSPC/);

    free.bytes = 15 * MIB;
    await timer.fire();
    expect(threads.started).toHaveLength(1);
    expect(stores.health.down).toBeDefined();

    free.bytes = 16 * MIB;
    await timer.fire();
    expect(threads.started).toEqual([undefined, { dynamoDb: 4000, s3: 4001 }]);
    expect(stores.health.down).toBeUndefined();
    expect(work).toEqual({ paused: 1, resumed: 1 });
    expect(lines.at(-1)).toBe(
      "sdbatch's stores are back; resumed 1 unfinished job(s): job_20261207_aaaaaaaaaa.",
    );
    expect(timer.running).toBe(false);
    expect(stores.clients).toBe(clients);

    // The restarted thread is watched as the first was.
    stores.injectFault(ENOSPC);
    expect(stores.health.down).toMatch(/ENOSPC/);
    expect(timer.running).toBe(true);
  });

  it('restart after a stop for another reason without waiting for space', async () => {
    const { stores, threads, timer, lines } = await supervised();
    stores.injectFault({
      code: 'ERR_WORKER_OUT_OF_MEMORY',
      message: 'Worker terminated due to reaching memory limit',
    });
    expect(lines[0]).toBe(
      "sdbatch's stores stopped (Worker terminated due to reaching memory limit); sdbatch is restarting them, and resumes unfinished jobs once they are back.",
    );
    await timer.fire();
    expect(threads.started).toHaveLength(2);
    expect(stores.health.down).toBeUndefined();
  });

  it('give up, with one line for the stack to exit on, when the stores cannot be started again', async () => {
    const { stores, threads, timer } = await supervised({ maxTroubles: 3 });
    let gaveUp: string | undefined;
    void stores.gaveUp.then((line) => {
      gaveUp = line;
    });
    stores.injectFault({ message: 'the stores thread exited with code 1' });
    threads.refusals.push(
      new Error('IO error: lock LOCK: already held'),
      new Error('again'),
      new Error('still'),
    );
    await timer.fire();
    await timer.fire();
    expect(timer.running).toBe(true);
    await timer.fire();
    expect(threads.started).toHaveLength(4);
    expect(timer.running).toBe(false);
    expect(await stores.gaveUp).toBe(
      'sdbatch cannot bring its stores back (still); stopping. Jobs and images stay in /data/sdbatch: the next start resumes unfinished jobs.',
    );
    expect(gaveUp).toBeDefined();
  });

  it('give up on stores that keep stopping for a reason other than space, however often they restart', async () => {
    const { stores, threads, timer } = await supervised({ maxTroubles: 2 });
    stores.injectFault({ message: 'the stores thread exited with code 1' });
    await timer.fire();
    stores.injectFault({ message: 'the stores thread exited with code 1' });
    await timer.fire();
    expect(stores.health.down).toBeUndefined();
    stores.injectFault({ message: 'the stores thread exited with code 1' });
    expect(await stores.gaveUp).toMatch(
      /^sdbatch cannot bring its stores back \(the stores thread exited with code 1\)/,
    );
    expect(timer.running).toBe(false);
    expect(threads.started).toHaveLength(3);
  });

  it('wait for space again when a restart finds the data dir still full, without giving up', async () => {
    const { stores, threads, timer, free } = await supervised({ maxTroubles: 1 });
    stores.injectFault(ENOSPC);
    free.bytes = 100 * MIB;
    threads.refusals.push(Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' }));
    await timer.fire();
    free.bytes = 0;
    await timer.fire();
    expect(threads.started).toHaveLength(2);
    free.bytes = 100 * MIB;
    await timer.fire();
    expect(threads.started).toHaveLength(3);
    expect(stores.health.down).toBeUndefined();
  });

  it('say nothing of a thread that ends because the stack stops', async () => {
    const { stores, lines, timer } = await supervised();
    await stores.close();
    stores.injectFault(ENOSPC);
    expect(lines).toEqual([]);
    expect(stores.health.down).toBeUndefined();
    expect(timer.running).toBe(false);
  });
});

describe('store health', () => {
  it('knows lack of space in either emulator: s3rver by its code, dynalite by LevelDB text', () => {
    expect(isOutOfSpace(ENOSPC)).toBe(true);
    expect(isOutOfSpace(LEVELDB_FULL)).toBe(true);
    expect(isOutOfSpace({ code: 'LEVEL_IO_ERROR', message: 'IO error: lock LOCK: already held' })).toBe(
      false,
    );
    expect(isOutOfSpace(undefined)).toBe(false);
  });

  it('refuses a guarded client call at once with the reason while the stores are down', async () => {
    const health = new StoreHealth();
    // Nothing listens there: a call that went out would fail with a connection error instead, after retries.
    const client = new DynamoDBClient({
      region: 'us-east-1',
      endpoint: 'http://127.0.0.1:9',
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
      maxAttempts: 1,
    });
    health.guard(client);
    health.markDown('the data dir is full (ENOSPC)');
    const refused = await client.send(new ListTablesCommand({})).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(StoresUnavailableError);
    expect((refused as Error).message).toBe('the data dir is full (ENOSPC)');
    client.destroy();
  });
});
