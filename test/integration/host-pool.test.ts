import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { documentClient } from '../../lambdas/adapters/aws-clients.ts';
import { DynamoDbHostPool } from '../../lambdas/adapters/dynamodb-host-pool.ts';
import { type EmbeddedStores, startEmbeddedStores } from '../../local/embedded-stores.ts';
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

/** Each test gets a pool (a partition) of its own. */
function pool(clock: () => number = Date.now, hosts = [{ id: 'h', depth: 2 }]) {
  return new DynamoDbHostPool(documentClient(stores.clients), stores.tableName, hosts, {
    clock,
    name: `test-${++tables}`,
  });
}

describe('DynamoDbHostPool against dynalite', () => {
  it('clears every lease a killed owner left behind', async () => {
    const p = pool(Date.now, [{ id: 'left', depth: 2 }]);
    await p.acquire('a', 'a#0', 600_000);
    await p.acquire('a', 'a#1', 600_000);
    expect(await p.acquire('b', 'b#0', 600_000)).toHaveProperty('wait');
    expect(await p.clearLeases()).toBe(2);
    expect(await p.acquire('b', 'b#0', 600_000)).toMatchObject({ holder: 'b#0' });
  });

  it('never grants one slot twice under concurrent acquirers', async () => {
    const p = pool(Date.now, [
      { id: 'race-a', depth: 2 },
      { id: 'race-b', depth: 1 },
    ]);
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => p.acquire(`job${i % 3}`, `job${i % 3}#${i}`, 60_000)),
    );
    const granted = results.filter((r) => 'hostId' in r);
    const keys = granted.map((r) => ('hostId' in r ? `${r.hostId}/${r.slot}` : ''));
    expect(new Set(keys).size).toBe(keys.length);
    expect(granted.length).toBeLessThanOrEqual(3);
    expect(granted.length).toBeGreaterThan(0);
    for (const lease of granted) if ('hostId' in lease) await p.release(lease);
  });

  it('releases a slot for the next holder, and an expired lease frees it without a release', async () => {
    let now = 10_000_000;
    const p = pool(() => now, [{ id: 'expiry', depth: 1 }]);
    const first = await p.acquire('a', 'a#0', 1000);
    expect(first).toMatchObject({ hostId: 'expiry', slot: 0 });
    expect(await p.acquire('a', 'a#1', 1000)).toHaveProperty('wait');
    if ('hostId' in first) await p.release(first);
    const second = await p.acquire('a', 'a#1', 1000);
    expect(second).toMatchObject({ holder: 'a#1' });
    now += 1001;
    // The holder crashed: its lease lapses and the slot goes to the next asker.
    expect(await p.acquire('b', 'b#0', 1000)).toMatchObject({ holder: 'b#0' });
    // A stale release by the crashed holder does not free the new holder's slot.
    if ('hostId' in second) await p.release(second);
    expect(await p.acquire('c', 'c#0', 1000)).toHaveProperty('wait');
  });

  it('queues jobs fairly: a waiting job gets the next free slot before the job that holds more', async () => {
    const p = pool(Date.now, [{ id: 'fair', depth: 2 }]);
    const big1 = await p.acquire('big', 'big#0', 60_000);
    const big2 = await p.acquire('big', 'big#1', 60_000);
    expect(await p.acquire('small', 'small#0', 60_000)).toHaveProperty('wait');
    if ('hostId' in big1) await p.release(big1);
    expect(await p.acquire('big', 'big#2', 60_000)).toMatchObject({ wait: expect.stringMatching(/small/) });
    expect(await p.acquire('small', 'small#0', 60_000)).toMatchObject({ holder: 'small#0' });
    if ('hostId' in big2) await p.release(big2);
  });

  it('rests a host after three failures in a row and says so', async () => {
    const p = pool(Date.now, [
      { id: 'sick', depth: 1 },
      { id: 'well', depth: 1 },
    ]);
    const onSick = { hostId: 'sick', slot: 0, holder: 'x#0', jobId: 'x', hostFailures: 0 };
    expect(await p.reportHealth(onSick, false)).toBe(false);
    expect(await p.reportHealth(onSick, false)).toBe(false);
    expect(await p.reportHealth(onSick, false)).toBe(true);
    expect(await p.resting()).toEqual(['sick']);
    expect(await p.acquire('j', 'j#0', 60_000)).toMatchObject({ hostId: 'well' });
    await p.reportHealth({ ...onSick, hostFailures: 3 }, true);
    expect(await p.resting()).toEqual([]);
  });
});
