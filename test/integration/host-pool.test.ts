import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { documentClient } from '../../adapters/aws-clients.ts';
import { DynamoDbHostPool } from '../../adapters/dynamodb-host-pool.ts';
import { LINE_WINDOW } from '../../adapters/pool-items.ts';
import { nextRate } from '../../core/estimate.ts';
import { parseSlotKey } from '../../core/pool/host-pool.ts';
import { ADMISSION_RUNNER, REGISTER_GRACE_MS, WAKE_GRACE_MS } from '../../core/pool/waiters.ts';
import type { TaskCallbacks } from '../../core/ports.ts';
import { type EmbeddedStores, startEmbeddedStores } from '../../local/embedded-stores.ts';
import { LocalTaskCallbacks } from '../../local/step-functions/local-task-callbacks.ts';
import { TaskTokens } from '../../local/step-functions/task-tokens.ts';
import { poolAsk as ask, SECOND_PER_UNIT } from '../support/pool-ask.ts';
import { RacingPool } from '../support/racing-pool.ts';
import { tempDir } from '../support/temp-dir.ts';

let stores: EmbeddedStores;
let dir: Awaited<ReturnType<typeof tempDir>>;
let tables = 0;

beforeAll(async () => {
  dir = await tempDir();
  stores = await startEmbeddedStores(dir.path);
});
afterAll(async () => {
  await stores.close();
  await dir.remove();
});

type QueryInput = { ExpressionAttributeValues?: Record<string, unknown> };

/** The Query inputs every document client sends while `fn` runs. */
async function queriesDuring(fn: () => Promise<unknown>): Promise<QueryInput[]> {
  const send = vi.spyOn(DynamoDBDocumentClient.prototype, 'send');
  try {
    await fn();
    return send.mock.calls
      .filter(([command]) => command instanceof QueryCommand)
      .map(([c]) => c.input as QueryInput);
  } finally {
    send.mockRestore();
  }
}

/** A read of the pool's slots and health (readPool), not of its line. */
const readsSlots = (input: QueryInput) => input.ExpressionAttributeValues?.[':pool'] !== undefined;

/** Each test gets a pool (a partition) of its own. */
function pool(clock: () => number = Date.now, hosts = [{ id: 'h', depth: 2 }], name = `test-${++tables}`) {
  return new DynamoDbHostPool(documentClient(stores.clients), stores.tableName, hosts, {
    clock,
    name,
    calibration: SECOND_PER_UNIT,
  });
}

describe('DynamoDbHostPool against dynalite', () => {
  it('clears every lease a killed owner left behind', async () => {
    const p = pool(Date.now, [{ id: 'left', depth: 2 }]);
    await p.acquire(ask('a', 'a#0'), 600_000);
    await p.acquire(ask('a', 'a#1'), 600_000);
    expect(await p.acquire(ask('b', 'b#0'), 600_000)).toHaveProperty('wait');
    expect(await p.clearLeases()).toBe(2);
    expect(await p.acquire(ask('b', 'b#0'), 600_000)).toMatchObject({ holder: 'b#0' });
  });

  it('never grants one slot twice under concurrent acquirers', async () => {
    const p = pool(Date.now, [
      { id: 'race-a', depth: 2 },
      { id: 'race-b', depth: 1 },
    ]);
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => p.acquire(ask(`job${i % 3}`, `job${i % 3}#${i}`), 60_000)),
    );
    const granted = results.filter((r) => 'hostId' in r);
    const keys = granted.map((r) => ('hostId' in r ? `${r.hostId}/${r.slot}` : ''));
    expect(new Set(keys).size).toBe(keys.length);
    expect(granted.length).toBeLessThanOrEqual(3);
    expect(granted.length).toBeGreaterThan(0);
    for (const lease of granted) if ('hostId' in lease) await p.release(lease);
  });

  it('never grants one slot twice, not even to two asks for the same iteration read at the same moment', async () => {
    const racing = (depth: number) =>
      new RacingPool(documentClient(stores.clients), stores.tableName, [{ id: 'same', depth }], {
        name: `test-${++tables}`,
        calibration: SECOND_PER_UNIT,
      });
    const one = racing(1);
    one.race(2);
    const [a, b] = await Promise.all([
      one.acquire(ask('j', 'j#3'), 60_000),
      one.acquire(ask('j', 'j#3'), 60_000),
    ]);
    expect([a, b].filter((r) => 'hostId' in r)).toHaveLength(1);
    // With a slot each, both win: each then sees the other's lease.
    const two = racing(2);
    two.race(2);
    const leases = await Promise.all([
      two.acquire(ask('j', 'j#3'), 60_000),
      two.acquire(ask('j', 'j#3'), 60_000),
    ]);
    const won = leases.filter((r) => 'hostId' in r);
    expect(won).toHaveLength(2);
    for (const lease of won) expect(await two.heldElsewhere(lease)).toBe(true);
    await two.release(won[0] as (typeof won)[0]);
    expect(await two.heldElsewhere(won[1] as (typeof won)[1])).toBe(false);
  });

  it('counts a job’s calls in flight: its live leases, not lapsed ones or another job’s', async () => {
    let now = 12_000_000;
    const p = pool(() => now, [{ id: 'counted', depth: 3 }]);
    const leases = [
      await p.acquire(ask('c', 'c#0'), 1000),
      await p.acquire(ask('c', 'c#1'), 5000),
      await p.acquire(ask('d', 'd#0'), 5000),
    ];
    expect(leases.every((l) => 'hostId' in l)).toBe(true);
    expect(await p.callsOf('c')).toBe(2);
    now += 1001;
    expect(await p.callsOf('c')).toBe(1);
    expect(await p.callsOf('d')).toBe(1);
  });

  it('lets only the current lease release a slot, not one of the same holder that lapsed', async () => {
    let now = 11_000_000;
    const p = pool(() => now, [{ id: 'relapse', depth: 1 }]);
    const first = await p.acquire(ask('a', 'a#0'), 1000);
    now += 1001;
    const again = await p.acquire(ask('a', 'a#0'), 1000);
    if (!('hostId' in first) || !('hostId' in again)) throw new Error('no lease');
    await p.release(first);
    expect(await p.acquire(ask('b', 'b#0'), 1000)).toHaveProperty('wait');
    await p.release(again);
    expect(await p.acquire(ask('b', 'b#0'), 1000)).toMatchObject({ holder: 'b#0' });
  });

  it('releases a slot for the next holder, and an expired lease frees it without a release', async () => {
    let now = 10_000_000;
    const p = pool(() => now, [{ id: 'expiry', depth: 1 }]);
    const first = await p.acquire(ask('a', 'a#0'), 1000);
    expect(first).toMatchObject({ hostId: 'expiry', slot: 0 });
    expect(await p.acquire(ask('a', 'a#1'), 1000)).toHaveProperty('wait');
    if ('hostId' in first) await p.release(first);
    const second = await p.acquire(ask('a', 'a#1'), 1000);
    expect(second).toMatchObject({ holder: 'a#1' });
    now += 1001;
    // The holder crashed: its lease lapses and the slot goes to the next asker.
    expect(await p.acquire(ask('b', 'b#0'), 1000)).toMatchObject({ holder: 'b#0' });
    // A stale release by the crashed holder does not free the new holder's slot.
    if ('hostId' in second) await p.release(second);
    expect(await p.acquire(ask('c', 'c#0'), 1000)).toHaveProperty('wait');
  });

  it('keeps a freed slot for the job ahead in line, not the job that asks first', async () => {
    const p = pool(Date.now, [{ id: 'fair', depth: 2 }]);
    const bigAsk = (holder: string) => ask('big', holder, { work: 4000 });
    const big1 = await p.acquire(bigAsk('big#0'), 60_000);
    const big2 = await p.acquire(bigAsk('big#1'), 60_000);
    // A small job started later has the earlier place: created then, with seconds of work left.
    const small = ask('small', 'small#0', { createdAt: 1000, work: 2 });
    expect(await p.acquire(small, 60_000)).toHaveProperty('wait');
    if ('hostId' in big1) await p.release(big1);
    expect(await p.acquire(bigAsk('big#2'), 60_000)).toMatchObject({ wait: expect.stringMatching(/small/) });
    expect(await p.acquire(small, 60_000)).toMatchObject({ holder: 'small#0' });
    // The big job, refused its hand-over, waits; the small one has its slot and no longer waits
    // (its second ask follows at once: a runner's asks go one at a time).
    const { waiters } = await p.snapshot();
    expect(waiters.map((w) => [w.jobId, w.token])).toEqual([['big', undefined]]);
    expect(await p.acquire(ask('small', 'small#1', { createdAt: 1000, work: 2 }), 60_000)).toHaveProperty(
      'wait',
    );
    if ('hostId' in big2) await p.release(big2);
    // The slot big held goes to small, ahead in line, not to big asking again first.
    expect(await p.acquire(bigAsk('big#3'), 60_000)).toMatchObject({ wait: expect.stringMatching(/small/) });
    expect(await p.acquire(ask('small', 'small#1', { createdAt: 1000, work: 2 }), 60_000)).toMatchObject({
      holder: 'small#1',
    });
  });

  it('rests a host after three failures in a row and says so', async () => {
    const p = pool(Date.now, [
      { id: 'sick', depth: 1 },
      { id: 'well', depth: 1 },
    ]);
    const onSick = { hostId: 'sick', slot: 0, holder: 'x#0', jobId: 'x', until: 0, hostFailures: 0 };
    expect(await p.reportHealth(onSick, false)).toBe(false);
    expect(await p.reportHealth(onSick, false)).toBe(false);
    expect(await p.reportHealth(onSick, false)).toBe(true);
    expect(await p.resting()).toEqual(['sick']);
    expect(await p.acquire(ask('j', 'j#0'), 60_000)).toMatchObject({ hostId: 'well' });
    await p.reportHealth({ ...onSick, hostFailures: 3 }, true);
    expect(await p.resting()).toEqual([]);
  });

  it('keeps when each host began failing and its last error, and is in an outage while every host fails', async () => {
    let now = 1_000_000;
    const p = pool(
      () => now,
      [
        { id: 'a', depth: 1 },
        { id: 'b', depth: 1 },
      ],
    );
    const on = (hostId: string, hostFailures = 0) => ({
      hostId,
      slot: 0,
      holder: 'x#0',
      jobId: 'x',
      until: 0,
      hostFailures,
    });
    await p.reportHealth(on('a'), false, 'connection refused');
    expect(await p.outage()).toBeUndefined();
    now += 5_000;
    await p.reportHealth(on('b'), false, 'answered 500');
    now += 5_000;
    await p.reportHealth(on('a'), false, 'reset');
    expect(await p.outage()).toEqual({
      since: 1_005_000,
      hosts: [
        { host_id: 'a', failing_since: 1_000_000, last_error: 'reset' },
        { host_id: 'b', failing_since: 1_005_000, last_error: 'answered 500' },
      ],
    });
    // A success on b ends it, and b's next failure begins again.
    await p.reportHealth(on('b', 1), true);
    expect(await p.outage()).toBeUndefined();
    now += 5_000;
    await p.reportHealth(on('b'), false, 'answered 502');
    expect((await p.outage())?.since).toBe(1_015_000);
  });

  it('counts failures that arrive together, so the host rests at the third', async () => {
    const p = pool(Date.now, [
      { id: 'sick', depth: 3 },
      { id: 'well', depth: 1 },
    ]);
    const onSick = (slot: number) => ({
      hostId: 'sick',
      slot,
      holder: `x#${slot}`,
      jobId: 'x',
      until: 0,
      hostFailures: 0,
    });
    const rested = await Promise.all([0, 1, 2].map((slot) => p.reportHealth(onSick(slot), false)));
    expect(rested.filter(Boolean)).toHaveLength(1);
    expect(await p.resting()).toEqual(['sick']);
  });

  it('hands a finished lease over to the next call in one write, and releases it when refusing', async () => {
    const name = `test-${++tables}`;
    const db = documentClient(stores.clients);
    const p = new DynamoDbHostPool(db, stores.tableName, [{ id: 'gpu', depth: 1 }], { name });
    const first = await p.acquire(ask('a', 'a#0'), 60_000);
    if (!('hostId' in first)) throw new Error('no lease');
    const sent = vi.spyOn(db, 'send');
    const second = await p.acquire(ask('a', 'a#1'), 60_000, {
      lease: first,
      measured: { key: 'p0', secondsPerUnit: 0.2 },
    });
    // The head of the line, then one write: no read of the slots, no release of a#0 of its own.
    expect(sent.mock.calls.map(([command]) => command.constructor.name)).toEqual([
      'QueryCommand',
      'UpdateCommand',
    ]);
    expect(sent.mock.calls[0]?.[0].input).toMatchObject({
      ExpressionAttributeValues: { ':queue': `POOL#${name}#QUEUE` },
      Limit: LINE_WINDOW,
    });
    expect(second).toMatchObject({ hostId: 'gpu', slot: 0, holder: 'a#1', rates: { p0: 0.2 } });
    if (!('hostId' in second)) throw new Error('no lease');
    // a#0 no longer holds anything: releasing it again changes nothing.
    await p.release(first);
    expect((await p.snapshot()).slots[0]).toMatchObject({ holder: 'a#1', rates: { p0: 0.2 } });

    // Another job waits, well ahead in line: the hand-over is refused and the slot freed for it.
    const b = ask('b', 'b#0', { work: 1 });
    expect(await p.acquire(b, 60_000)).toHaveProperty('wait');
    expect(await p.acquire(ask('a', 'a#2'), 60_000, { lease: second })).toMatchObject({
      wait: expect.stringMatching(/\bb\b/),
    });
    expect(await p.acquire(b, 60_000)).toMatchObject({ holder: 'b#0' });
    sent.mockRestore();
  });

  it('keeps a measured rate per host in the release write, averaged without a read', async () => {
    const name = `test-${++tables}`;
    const db = documentClient(stores.clients);
    const p = new DynamoDbHostPool(db, stores.tableName, [{ id: 'gpu', depth: 1 }], { name });
    const sent = vi.spyOn(db, 'send');
    const first = await p.acquire(ask('j', 'j#0'), 60_000);
    if (!('hostId' in first)) throw new Error('no lease');
    sent.mockClear();
    await p.release(first, { key: 'p0', secondsPerUnit: 0.2 });
    // One request: the release that was made anyway, now also carrying the rate.
    expect(sent.mock.calls.map(([command]) => command.constructor.name)).toEqual(['UpdateCommand']);

    const second = await p.acquire(ask('j', 'j#1'), 60_000);
    if (!('hostId' in second)) throw new Error('no lease');
    expect(second.rates).toEqual({ p0: 0.2 });
    await p.release(second, { key: 'p0', secondsPerUnit: 0.4 });
    const third = await p.acquire(ask('j', 'j#2'), 60_000);
    if (!('hostId' in third)) throw new Error('no lease');
    await p.release(third, { key: 'p2', secondsPerUnit: 0.3 });

    const [gpu] = await p.hostRates();
    expect(gpu).toMatchObject({ hostId: 'gpu', healthy: true, rates: { p0: nextRate(0.2, 0.4), p2: 0.3 } });
    expect(gpu?.measuredAt).toBeGreaterThan(0);
    // The gateway knows only how many hosts there are: it reads every host on record.
    const reader = pool(Date.now, [], name);
    expect(await reader.hostRates()).toEqual([gpu]);
    // The slot is free again, and a plain release still writes no rate.
    const fourth = await p.acquire(ask('j', 'j#3'), 60_000);
    if (!('hostId' in fourth)) throw new Error('no lease');
    await p.release(fourth);
    expect((await p.hostRates())[0]?.rates).toEqual(gpu?.rates);
  });

  it('drops the measurement of a lease that lapsed and went to another worker', async () => {
    let now = 20_000_000;
    const p = pool(() => now, [{ id: 'lapsed', depth: 1 }]);
    const stale = await p.acquire(ask('a', 'a#0'), 1000);
    now += 1001;
    const fresh = await p.acquire(ask('b', 'b#0'), 1000);
    if (!('hostId' in stale) || !('hostId' in fresh)) throw new Error('no lease');
    await p.release(stale, { key: 'p0', secondsPerUnit: 5 });
    expect((await p.hostRates())[0]?.rates).toEqual({});
    await p.release(fresh, { key: 'p0', secondsPerUnit: 1 });
    expect((await p.hostRates())[0]?.rates).toEqual({ p0: 1 });
  });
});

describe('the queue of runners waiting for a slot', () => {
  /** A pool whose waiters are woken through the embedded orchestrator's real callback tokens. */
  function queuedPool(hosts = [{ id: 'q', depth: 1 }]) {
    let now = 30_000_000;
    const tokens = new TaskTokens({ set: () => 0, clear: () => {} });
    const real = new LocalTaskCallbacks(tokens);
    const calls: string[] = [];
    let dropNextWake = false;
    const callbacks: TaskCallbacks = {
      succeed: async (token, output) => {
        calls.push(`succeed ${token}`);
        if (dropNextWake) {
          dropNextWake = false;
          throw new Error('network unreachable');
        }
        await real.succeed(token, output);
      },
    };
    /** Jobs that have ended (cancelled, most often), as the job store would say. */
    const ended = new Set<string>();
    const p = new DynamoDbHostPool(documentClient(stores.clients), stores.tableName, hosts, {
      clock: () => now,
      name: `test-${++tables}`,
      callbacks,
      calibration: SECOND_PER_UNIT,
      hasEnded: async (jobId) => ended.has(jobId),
    });
    /** A runner of `jobId` refused a slot, in its Wait state: whether it has been woken, and its token. */
    const waitInLine = async (jobId: string, options: Parameters<typeof ask>[2] = {}) => {
      const refused = await p.acquire(ask(jobId, `${jobId}#0`, options), 60_000);
      expect(refused).toHaveProperty('wait');
      const { token, result } = tokens.mint(jobId);
      const woken = result.then(
        () => true,
        () => false,
      );
      await p.registerWaiter(ask(jobId, '', options).claim, options.runner ?? 0, token);
      return { token, woken, wokenYet: () => Promise.race([woken, Promise.resolve(undefined)]) };
    };
    return {
      p,
      tokens,
      ended,
      calls,
      waitInLine,
      advance: (ms: number) => {
        now += ms;
      },
      loseNextWake: () => {
        dropNextWake = true;
      },
    };
  }

  it('wakes the runner next in line when a slot is released, and forgets it once it has its slot', async () => {
    const { p, waitInLine } = queuedPool();
    const holder = await p.acquire(ask('a', 'a#0'), 60_000);
    const b = await waitInLine('b');
    expect(await b.wokenYet()).toBeUndefined();
    if ('hostId' in holder) await p.release(holder);
    expect(await b.woken).toBe(true);
    expect((await p.snapshot()).waiters).toMatchObject([{ jobId: 'b', wokenAt: expect.any(Number) }]);
    expect(await p.acquire(ask('b', 'b#0'), 60_000)).toMatchObject({ holder: 'b#0' });
    expect((await p.snapshot()).waiters).toEqual([]);
  });

  it('gives a slot a job hands back at its end to the next in line, not to that job’s old claim', async () => {
    const { p, waitInLine } = queuedPool([{ id: 'q', depth: 2 }]);
    const last = await p.acquire(ask('a', 'a#10'), 60_000);
    const final = await p.acquire(ask('a', 'a#11'), 60_000);
    const b = await waitInLine('b', { createdAt: 5000 });
    // a's second-to-last call is over and it has nothing more to run: the slot goes to b now,
    // while a's last call still runs (its lease claimed room for two when it was taken).
    if ('hostId' in last) await p.release(last);
    expect(await b.wokenYet()).toBe(true);
    if ('hostId' in final) await p.release(final);
  });

  it('wakes at once a runner whose slot was freed while it got to its Wait state', async () => {
    const { p, tokens } = queuedPool();
    const holder = await p.acquire(ask('a', 'a#0'), 60_000);
    expect(await p.acquire(ask('b', 'b#0'), 60_000)).toHaveProperty('wait');
    // The slot is freed before b's token is in the queue: nobody could wake b then.
    if ('hostId' in holder) await p.release(holder);
    const { token, result } = tokens.mint('b');
    await p.registerWaiter(ask('b', '').claim, 0, token);
    await expect(result).resolves.toMatchObject({ woken_at: expect.any(String) });
  });

  it('wakes whoever a runner’s place held back once that runner, its share done, leaves the queue', async () => {
    const { p, tokens } = queuedPool([{ id: 'q', depth: 1 }]);
    // a holds the slot and was refused a second (every slot busy): it asks again in a while.
    const lease = await p.acquire(ask('a', 'a#0'), 60_000);
    expect(await p.acquire(ask('a', 'a#1'), 60_000)).toHaveProperty('wait');
    expect(await p.acquire(ask('b', 'b#0', { createdAt: 5000 }), 60_000)).toHaveProperty('wait');
    // a's call ends before b's token is in: a's place keeps the slot for it.
    if ('hostId' in lease) await p.release(lease);
    const { token, result } = tokens.mint('b');
    const woken = result.then(
      () => true,
      () => false,
    );
    await p.registerWaiter(ask('b', '', { createdAt: 5000 }).claim, 0, token);
    expect(await Promise.race([woken, Promise.resolve(undefined)])).toBeUndefined();
    await p.leaveQueue(ask('a', '').claim, 0);
    expect(await woken).toBe(true);
  });

  it('wakes in line order, and skips a runner whose task is gone to the next one', async () => {
    const { p, tokens, waitInLine } = queuedPool();
    const holder = await p.acquire(ask('a', 'a#0'), 60_000);
    const late = await waitInLine('late', { createdAt: 9000 });
    const early = await waitInLine('early', { createdAt: 1000 });
    const cancelled = await waitInLine('cancelled', { createdAt: 0 });
    // The first in line was cancelled: its execution stopped, its task with it.
    tokens.closeExecution('cancelled');
    expect(await cancelled.woken).toBe(false);
    if ('hostId' in holder) await p.release(holder);
    expect(await early.woken).toBe(true);
    expect(await late.wokenYet()).toBeUndefined();
    expect((await p.snapshot()).waiters.map((w) => w.jobId).sort()).toEqual(['early', 'late']);
  });

  it('wakes again a runner whose wake-up was lost, once the claim has lapsed', async () => {
    const { p, waitInLine, advance, loseNextWake, calls } = queuedPool();
    const holder = await p.acquire(ask('a', 'a#0'), 60_000);
    const b = await waitInLine('b');
    loseNextWake();
    if ('hostId' in holder) await p.release(holder);
    expect(calls.filter((c) => c.startsWith('succeed'))).toHaveLength(1);
    expect(await b.wokenYet()).toBeUndefined();
    await p.sweep();
    // Still within WAKE_GRACE_MS: the first wake-up may yet arrive.
    expect(await b.wokenYet()).toBeUndefined();
    advance(WAKE_GRACE_MS);
    await p.sweep();
    expect(await b.woken).toBe(true);
  });

  it('forgets runners that never registered, once their grace is over', async () => {
    const { p, waitInLine, advance } = queuedPool();
    const holder = await p.acquire(ask('a', 'a#0'), 3_600_000);
    await waitInLine('b');
    expect(await p.acquire(ask('c', 'c#0'), 60_000)).toHaveProperty('wait');
    advance(REGISTER_GRACE_MS);
    await p.sweep();
    // c was refused but never reached its Wait state (its runner died): it is dropped.
    expect((await p.snapshot()).waiters.map((w) => w.jobId)).toEqual(['b']);
    if ('hostId' in holder) await p.release(holder);
  });

  /** The queue partition's items, by kind: LINE (places) and TOKEN (tokens apart). */
  async function queueItems(p: DynamoDbHostPool) {
    const name = (p as unknown as { queuePk: string }).queuePk;
    const { Items = [] } = await documentClient(stores.clients).send(
      new QueryCommand({
        TableName: stores.tableName,
        KeyConditionExpression: 'pk = :queue',
        ExpressionAttributeValues: { ':queue': name },
        ConsistentRead: true,
      }),
    );
    return Items;
  }

  it('holds one place in line for a job waiting to be admitted, however many runners it has', async () => {
    const { p, tokens } = queuedPool([{ id: 'q', depth: 2 }]);
    const holders = [await p.acquire(ask('a', 'a#0'), 60_000), await p.acquire(ask('a', 'a#1'), 60_000)];
    // A job of 40 runners (want 80, capped at the pool's 2 slots) waits as a whole.
    const { token, result } = tokens.mint('big');
    await p.registerWaiter(ask('big', '', { want: 80 }).claim, ADMISSION_RUNNER, token);
    const items = await queueItems(p);
    expect(items.map((i) => String(i.sk).split('#')[0]).sort()).toEqual(['LINE', 'TOKEN']);
    // The token is apart: the line item a decision reads holds none.
    expect(items.find((i) => String(i.sk).startsWith('LINE#'))).not.toHaveProperty('token');
    for (const lease of holders) if ('hostId' in lease) await p.release(lease);
    await expect(result).resolves.toMatchObject({ runners: 1 });
  });

  it('admits a job with exactly the slots that are free, which its runners then take', async () => {
    const { p, tokens } = queuedPool([
      { id: 'q1', depth: 2 },
      { id: 'q2', depth: 2 },
    ]);
    const held = [await p.acquire(ask('a', 'a#0', { want: 4 }), 60_000)];
    for (let i = 1; i < 4; i++) held.push(await p.acquire(ask('a', `a#${i}`, { want: 4 }), 60_000));
    const { token, result } = tokens.mint('b');
    // b is well ahead in line (little work): a running job gives way to it.
    await p.registerWaiter(ask('b', '', { want: 4, work: 1 }).claim, ADMISSION_RUNNER, token);
    // One slot frees: b is admitted with one runner, and claims that one slot, not four.
    if ('hostId' in (held[0] as object)) await p.release(held[0] as never);
    await expect(result).resolves.toMatchObject({ runners: 1 });
    const line = (await p.snapshot()).waiters;
    expect(line).toMatchObject([{ jobId: 'b', runner: ADMISSION_RUNNER, want: 1 }]);
    // a's next ask is refused: the freed slot is b's.
    expect(await p.acquire(ask('a', 'a#9', { want: 4 }), 60_000)).toMatchObject({ ahead: 'b' });
    // b's runner takes it, and the admission's claim is spent.
    expect(await p.acquire(ask('b', 'b#0', { want: 2, work: 1 }), 60_000)).toMatchObject({
      holder: 'b#0',
    });
    expect((await p.snapshot()).waiters.filter((w) => w.runner === ADMISSION_RUNNER)).toEqual([]);
  });

  it('names the free slots each admitted job is for, no two jobs the same, and a runner takes its own with one write and no read', async () => {
    const { p, tokens } = queuedPool([
      { id: 'n1', depth: 2 },
      { id: 'n2', depth: 2 },
    ]);
    const x = tokens.mint('x');
    await p.registerWaiter(ask('x', '', { createdAt: 1000 }).claim, ADMISSION_RUNNER, x.token);
    const y = tokens.mint('y');
    await p.registerWaiter(ask('y', '', { createdAt: 2000 }).claim, ADMISSION_RUNNER, y.token);
    const xs = (await x.result) as { runners: number; assigned: string[] };
    const ys = (await y.result) as { runners: number; assigned: string[] };
    expect(xs).toMatchObject({ runners: 1, runner_ids: [0] });
    expect(xs.assigned).toHaveLength(2);
    expect(ys.assigned).toHaveLength(2);
    // Spread over idle hosts first, and y's not x's: x's runner has not taken them yet.
    expect(new Set(xs.assigned.map((k) => k.split('#')[0]))).toEqual(new Set(['n1', 'n2']));
    expect(new Set([...xs.assigned, ...ys.assigned]).size).toBe(4);
    const queries = await queriesDuring(async () => {
      for (const [i, key] of xs.assigned.entries()) {
        const runnerAsk = ask('x', `x#${i}`, { createdAt: 1000 });
        const lease = await p.acquire({ ...runnerAsk, assigned: parseSlotKey(key) }, 60_000);
        expect(lease).toMatchObject({ holder: `x#${i}`, hostId: key.split('#')[0] });
      }
    });
    // Not even the line's head: one write for the slot, one for the admission's claim.
    expect(queries).toEqual([]);
    // Both taken: x's admission has left the line; y's still holds its two slots.
    expect((await p.snapshot()).waiters.map((w) => w.jobId)).toEqual(['y']);
    expect(await p.acquire(ask('z', 'z#0', { createdAt: 3000 }), 60_000)).toMatchObject({ ahead: 'y' });
  });

  it('names a runner both slots of one host where both were picked: its two calls keep that host busy', async () => {
    const { p, tokens } = queuedPool([
      { id: 'g1', depth: 2 },
      { id: 'g2', depth: 2 },
    ]);
    const all = tokens.mint('all');
    await p.registerWaiter(ask('all', '', { want: 4 }).claim, ADMISSION_RUNNER, all.token);
    await expect(all.result).resolves.toMatchObject({
      runners: 2,
      assigned: ['g1#0', 'g1#1', 'g2#0', 'g2#1'],
    });
  });

  it('admits the job first in line to a slot let go, naming it, from the head of the line alone', async () => {
    const { p, tokens } = queuedPool([{ id: 'q', depth: 1 }]);
    const held = await p.acquire(ask('a', 'a#0'), 60_000);
    const b = tokens.mint('b');
    await p.registerWaiter(ask('b', '', { createdAt: 1000 }).claim, ADMISSION_RUNNER, b.token);
    const queries = await queriesDuring(async () => {
      if ('hostId' in held) await p.release(held);
      await expect(b.result).resolves.toMatchObject({ runners: 1, slots: 1, assigned: ['q#0'] });
    });
    expect(queries.filter(readsSlots)).toEqual([]);
  });

  it('gives two slots let go at once to the first two jobs in line, whichever release wakes the first', async () => {
    const { p, tokens } = queuedPool([{ id: 'q', depth: 2 }]);
    const held = [await p.acquire(ask('a', 'a#0'), 60_000), await p.acquire(ask('a', 'a#1'), 60_000)];
    const w = tokens.mint('w');
    await p.registerWaiter(ask('w', '', { createdAt: 1000, want: 1 }).claim, ADMISSION_RUNNER, w.token);
    const x = tokens.mint('x');
    await p.registerWaiter(ask('x', '', { createdAt: 2000, want: 1 }).claim, ADMISSION_RUNNER, x.token);
    // Both releases may read the line before either wakes w: the one that finds w woken by the
    // other sweeps, and x gets the second slot.
    await Promise.all(held.map((lease) => ('hostId' in lease ? p.release(lease) : undefined)));
    const [ws, xs] = (await Promise.all([w.result, x.result])) as Array<{ assigned: string[] }>;
    expect(new Set([...(ws?.assigned ?? []), ...(xs?.assigned ?? [])])).toEqual(new Set(['q#0', 'q#1']));
  });

  it('loses nothing when an admitted job never comes for its slots: they go on to the next in line', async () => {
    const { p, tokens, advance } = queuedPool([{ id: 'q', depth: 1 }]);
    const holder = await p.acquire(ask('a', 'a#0'), 60_000);
    const dies = tokens.mint('dies');
    await p.registerWaiter(ask('dies', '', { createdAt: 1000 }).claim, ADMISSION_RUNNER, dies.token);
    const next = tokens.mint('next');
    const nextWoken = next.result.then(
      () => true,
      () => false,
    );
    await p.registerWaiter(ask('next', '', { createdAt: 2000 }).claim, ADMISSION_RUNNER, next.token);
    if ('hostId' in holder) await p.release(holder);
    await expect(dies.result).resolves.toMatchObject({ runners: 1 });
    // Its execution is gone before any runner asked (a worker died, or it was cancelled).
    tokens.closeExecution('dies');
    await p.sweep();
    expect(await Promise.race([nextWoken, Promise.resolve(undefined)])).toBeUndefined();
    // Its claim lapses; the next sweep finds its task gone and admits the next job.
    advance(WAKE_GRACE_MS);
    await p.sweep();
    expect(await nextWoken).toBe(true);
  });

  it('reads one short page of the line however long it is', async () => {
    const { p, tokens } = queuedPool([{ id: 'q', depth: 1 }]);
    const holder = await p.acquire(ask('a', 'a#0'), 3_600_000);
    for (let i = 0; i < 3 * LINE_WINDOW; i++) {
      const { token } = tokens.mint(`w${i}`);
      await p.registerWaiter(ask(`w${i}`, '', { createdAt: 1000 + i }).claim, ADMISSION_RUNNER, token);
    }
    expect(await queueItems(p)).toHaveLength(6 * LINE_WINDOW);
    const line = (await p.snapshot()).waiters;
    expect(line).toHaveLength(LINE_WINDOW);
    // In order: the earliest places first.
    expect(line.map((w) => w.jobId)).toEqual(Array.from({ length: LINE_WINDOW }, (_, i) => `w${i}`));
    if ('hostId' in holder) await p.release(holder);
  });

  it('reads no slots when a job joins the line behind a full head', async () => {
    const { p, tokens } = queuedPool([{ id: 'q', depth: 1 }]);
    const holder = await p.acquire(ask('a', 'a#0'), 3_600_000);
    for (let i = 0; i < LINE_WINDOW; i++) {
      const { token } = tokens.mint(`w${i}`);
      await p.registerWaiter(ask(`w${i}`, '', { createdAt: 1000 + i }).claim, ADMISSION_RUNNER, token);
    }
    const { token } = tokens.mint('late');
    const queries = await queriesDuring(() =>
      p.registerWaiter(ask('late', '', { createdAt: 9000 }).claim, ADMISSION_RUNNER, token),
    );
    expect(queries.filter(readsSlots)).toEqual([]);
    if ('hostId' in holder) await p.release(holder);
  });

  it('gives the slots a cancelled job was admitted for to the next in line at once', async () => {
    const { p, tokens, ended } = queuedPool([{ id: 'q', depth: 1 }]);
    const holder = await p.acquire(ask('a', 'a#0'), 60_000);
    const cancelled = tokens.mint('cancelled');
    await p.registerWaiter(
      ask('cancelled', '', { createdAt: 1000 }).claim,
      ADMISSION_RUNNER,
      cancelled.token,
    );
    if ('hostId' in holder) await p.release(holder);
    await expect(cancelled.result).resolves.toMatchObject({ runners: 1 });
    // Cancelled before its runner asked: its execution stopped, and its claim would hold the slot
    // for WAKE_GRACE_MS, with nobody to take it.
    ended.add('cancelled');
    tokens.closeExecution('cancelled');
    const next = tokens.mint('next');
    await p.registerWaiter(ask('next', '', { createdAt: 2000 }).claim, ADMISSION_RUNNER, next.token);
    await expect(next.result).resolves.toMatchObject({ runners: 1 });
  });
});
