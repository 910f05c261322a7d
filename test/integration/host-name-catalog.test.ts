import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { documentClient } from '../../adapters/aws-clients.ts';
import { DynamoDbHostNameCatalog } from '../../adapters/dynamodb-host-name-catalog.ts';
import { HOST_NAMES_PK } from '../../adapters/jobs-table.ts';
import { type EmbeddedStores, startEmbeddedStores } from '../../local/embedded-stores.ts';
import { tempDir } from '../support/temp-dir.ts';

let stores: EmbeddedStores;
let dir: Awaited<ReturnType<typeof tempDir>>;

beforeAll(async () => {
  dir = await tempDir();
  stores = await startEmbeddedStores(dir.path);
});
afterAll(async () => {
  await stores.close();
  await dir.remove();
});

const checkpoint = {
  title: 'random-sd15.safetensors [5dd3a9b884]',
  model_name: 'random-sd15',
  filename: '/models/random-sd15.safetensors',
  hash: '5dd3a9b884',
  config: null,
};

describe('DynamoDbHostNameCatalog against dynalite', () => {
  it("keeps each host's lists as one item, only the fields names are matched on, and writes the same lists once per refresh", async () => {
    let now = Date.parse('2026-12-07T21:00:00Z');
    const db = documentClient(stores.clients);
    const sent = vi.spyOn(db, 'send');
    const catalog = new DynamoDbHostNameCatalog(db, stores.tableName, () => now);
    expect(catalog.due('a:7860')).toBe(true);
    const names = {
      checkpoints: [checkpoint],
      samplers: ['Euler a', 'Euler'],
      upscalers: ['Latent', 'R-ESRGAN 4x+'],
      adetailer: ['face_yolov8n.pt'],
    };
    await catalog.record('a:7860', names);
    expect(catalog.due('a:7860')).toBe(false);
    now += 60_000;
    await catalog.record('a:7860', names);
    expect(sent.mock.calls.filter(([c]) => c instanceof PutCommand)).toHaveLength(1);

    const [read] = await catalog.read();
    const { config: _config, ...matched } = checkpoint;
    // Schedulers and ControlNet were not given: unknown, not empty.
    expect(read).toEqual({
      hostId: 'a:7860',
      names: { ...names, checkpoints: [matched] },
      readAt: now - 60_000,
    });
    now += 10 * 60_000;
    expect(catalog.due('a:7860')).toBe(true);
  });

  it('skips an item in a shape it does not know (an older version of the item) rather than refuse from it', async () => {
    const db = documentClient(stores.clients);
    await db.send(
      new PutCommand({
        TableName: stores.tableName,
        Item: {
          pk: HOST_NAMES_PK,
          sk: 'HOST#odd:7860',
          host_id: 'odd:7860',
          names: { samplers: 'Euler' },
          read_at: 1,
        },
      }),
    );
    const reads = await new DynamoDbHostNameCatalog(db, stores.tableName).read();
    expect(reads.map((r) => r.hostId)).not.toContain('odd:7860');
  });
});
