import { describe, expect, it } from 'vitest';
import {
  type Item,
  indexWrites,
  itemSize,
  JOBS_TABLE_SHAPE,
  queryPartition,
  readUnits,
  valueSize,
  wireItem,
  writeUnits,
} from '../../../bench/capacity.ts';
import { CapacityMeter, peak } from '../../../bench/capacity-meter.ts';

const s = (v: string) => ({ S: v });
const n = (v: string) => ({ N: v });
/** An item of exactly `bytes` bytes: the name `p` (1 byte) and a string of bytes - 1. */
const sized = (bytes: number): Item => ({ p: s('x'.repeat(bytes - 1)) });

describe('item size (developer guide: "DynamoDB item sizes and formats")', () => {
  it('adds the UTF-8 bytes of names and string values', () => {
    expect(itemSize({ name: s('abc') })).toBe(4 + 3);
    // "é" is 2 bytes in UTF-8, "€" 3.
    expect(itemSize({ é: s('€') })).toBe(2 + 3);
  });

  it('sizes a number at 1 byte per two significant digits plus 1, zeros at either end trimmed', () => {
    expect(valueSize(n('7'))).toBe(2);
    expect(valueSize(n('12345'))).toBe(1 + 3);
    expect(valueSize(n('-1.5'))).toBe(1 + 1);
    expect(valueSize(n('0001200'))).toBe(1 + 1);
  });

  it('gives null and Boolean 1 byte, binary its raw bytes (not the base64)', () => {
    expect(valueSize({ NULL: true })).toBe(1);
    expect(valueSize({ BOOL: false })).toBe(1);
    expect(valueSize({ B: Buffer.from('hello').toString('base64') })).toBe(5);
    expect(valueSize({ B: new Uint8Array(7) })).toBe(7);
  });

  it('gives a list or map 3 bytes plus 1 per element, an empty one 3', () => {
    expect(valueSize({ L: [] })).toBe(3);
    expect(valueSize({ M: {} })).toBe(3);
    // [ "ab", 10 ]: 3 + (1 + 2) + (1 + 2)
    expect(valueSize({ L: [s('ab'), n('10')] })).toBe(9);
    // { k: "v" }: 3 + 1 + (1 + 1)
    expect(valueSize({ M: { k: s('v') } })).toBe(6);
  });
});

describe('read units (developer guide: "DynamoDB read and write operations")', () => {
  it('rounds a read up to 4 KB: 3,500 bytes is one unit, half of one eventually consistent', () => {
    expect(readUnits(3500, true)).toBe(1);
    expect(readUnits(3500, false)).toBe(0.5);
  });

  it('reads an 8 KB item for 2 units (1 eventually consistent), a 10 KB one as 12 KB', () => {
    expect(readUnits(8 * 1024, true)).toBe(2);
    expect(readUnits(8 * 1024, false)).toBe(1);
    expect(readUnits(10 * 1024, true)).toBe(3);
  });

  it('charges a read that finds nothing as a 4 KB one', () => {
    expect(readUnits(0, true)).toBe(1);
  });
});

describe('write units', () => {
  it('rounds the larger of the item before and after up to 1 KB', () => {
    expect(writeUnits(undefined, sized(500))).toBe(1);
    expect(writeUnits(undefined, sized(1024))).toBe(1);
    expect(writeUnits(undefined, sized(1025))).toBe(2);
    // An update shrinking a 3.5 KB item to 100 bytes pays for the 3.5 KB.
    expect(writeUnits(sized(3584), sized(100))).toBe(4);
    // A delete pays for the item deleted; a failed condition on nothing, one unit.
    expect(writeUnits(sized(2048), undefined)).toBe(2);
    expect(writeUnits(undefined, undefined)).toBe(1);
  });
});

describe('index writes (developer guide: "Global secondary indexes", writes)', () => {
  const [byOwner, active] = JOBS_TABLE_SHAPE.indexes;
  if (!byOwner || !active) throw new Error('the jobs table has two indexes');
  const job = (status: string, extra: Item = {}): Item => ({
    pk: s('JOB#job_1'),
    sk: s('JOB'),
    owner_pk: s('OWNER#me'),
    owner_sk: s('2026#job_1'),
    status: s(status),
    params: s('x'.repeat(3000)),
    ...extra,
  });

  it('puts an entry (projected attributes only, not the 3 KB params) when an item enters the index', () => {
    expect(indexWrites(JOBS_TABLE_SHAPE, byOwner, undefined, job('pending'))).toEqual([
      { index: 'by-owner', partition: 'OWNER#me', units: 1 },
    ]);
  });

  it('writes nothing when no projected attribute or key changes', () => {
    const before = job('running');
    const after = { ...before, progress: n('5') };
    expect(indexWrites(JOBS_TABLE_SHAPE, byOwner, before, after)).toEqual([]);
  });

  it('writes once when a projected attribute changes, and once to remove an entry', () => {
    expect(indexWrites(JOBS_TABLE_SHAPE, byOwner, job('pending'), job('running'))).toHaveLength(1);
    const activeJob = job('running', { active_owner_pk: s('OWNER#me') });
    expect(indexWrites(JOBS_TABLE_SHAPE, active, activeJob, job('succeeded'))).toEqual([
      { index: 'active-by-owner', partition: 'OWNER#me', units: 1 },
    ]);
  });

  it('writes twice when the index key changes (delete the old entry, put the new)', () => {
    const moved = job('running', { owner_pk: s('OWNER#you') });
    expect(indexWrites(JOBS_TABLE_SHAPE, byOwner, job('running'), moved)).toEqual([
      { index: 'by-owner', partition: 'OWNER#me', units: 1 },
      { index: 'by-owner', partition: 'OWNER#you', units: 1 },
    ]);
  });
});

describe('the capacity meter', () => {
  const table = 'jobs';
  const at = 1_000_000;

  it('asks for the old image of a write the code asked nothing of, and hands the code none', () => {
    const meter = new CapacityMeter();
    const input = { TableName: table, Item: job() };
    const prepared = meter.prepare('PutItemCommand', input);
    expect(prepared.input).toMatchObject({ ReturnValues: 'ALL_OLD', ReturnConsumedCapacity: 'TOTAL' });
    expect(input).not.toHaveProperty('ReturnValues');
    const output: Record<string, unknown> = { Attributes: job(), ConsumedCapacity: { CapacityUnits: 1 } };
    prepared.restore(output);
    expect(output).toEqual({});
  });

  it('keeps what the code asked for', () => {
    const meter = new CapacityMeter();
    const prepared = meter.prepare('UpdateItemCommand', { TableName: table, ReturnValues: 'UPDATED_NEW' });
    expect(prepared.input.ReturnValues).toBe('UPDATED_NEW');
    const output: Record<string, unknown> = { Attributes: { a: n('1') } };
    prepared.restore(output);
    expect(output).toEqual({ Attributes: { a: n('1') } });
  });

  it('bills a failed conditional write for the item as it stands, and counts it', () => {
    const meter = new CapacityMeter();
    const big = { ...job(), blob: s('x'.repeat(2500)) };
    meter.record(
      'PutItemCommand',
      { TableName: table, Item: big, ReturnValues: 'ALL_OLD' },
      {},
      undefined,
      at,
    );
    const refused = Object.assign(new Error('no'), { name: 'ConditionalCheckFailedException' });
    const units = meter.record('UpdateItemCommand', { TableName: table, Key: key() }, undefined, refused, at);
    expect(units.wru).toBe(3);
    expect(meter.snapshot().failedConditionalWrites).toBe(1);
  });

  it('adds index writes to a job item put, and finds the hottest partition per second', () => {
    const meter = new CapacityMeter();
    const put = meter.record(
      'PutItemCommand',
      { TableName: table, Item: job(), ReturnValues: 'ALL_OLD' },
      {},
      undefined,
      at,
    );
    // The table's 1 unit, the by-owner entry's 1.
    expect(put.wru).toBe(2);
    for (let i = 0; i < 3; i++) {
      meter.record(
        'QueryCommand',
        {
          TableName: table,
          KeyConditionExpression: '#pk = :pk',
          ExpressionAttributeNames: { '#pk': 'pk' },
          ExpressionAttributeValues: { ':pk': s('POOL#gpu') },
          ConsistentRead: true,
        },
        { Items: [sized(5000)], ConsumedCapacity: { CapacityUnits: 2 } },
        undefined,
        at + i * 100,
      );
    }
    const snapshot = meter.snapshot();
    expect(snapshot.peakRead).toEqual({ partition: 'table POOL#gpu', units: 6, at });
    expect(snapshot.dynaliteChecks).toEqual({ agree: 3, disagree: 0 });
    expect(snapshot.ops.find((o) => o.command === 'QueryCommand')).toMatchObject({ requests: 3, rru: 6 });
  });

  it('sizes the plain items the document client hands back as their wire form', () => {
    const meter = new CapacityMeter();
    const plain = {
      pk: 'JOB#job_1',
      sk: 'JOB',
      count: 12345,
      tags: ['a'],
      done: true,
      blob: 'x'.repeat(4100),
    };
    expect(wireItem(plain)).toEqual({
      pk: s('JOB#job_1'),
      sk: s('JOB'),
      count: n('12345'),
      tags: { L: [s('a')] },
      done: { BOOL: true },
      blob: s('x'.repeat(4100)),
    });
    const units = meter.record(
      'GetItemCommand',
      { Key: key(), ConsistentRead: true },
      { Item: plain },
      undefined,
      at,
    );
    expect(units.rru).toBe(2);
    expect(meter.snapshot().ops[0]).toMatchObject({ partition: 'JOB#*', rru: 2 });
  });

  it('bills a query that finds nothing as a 4 KB read, where dynalite answers 0', () => {
    const meter = new CapacityMeter();
    const query = {
      TableName: table,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': s('POOL#gpu') },
      ConsistentRead: true,
    };
    const units = meter.record(
      'QueryCommand',
      query,
      { Items: [], ConsumedCapacity: { CapacityUnits: 0 } },
      undefined,
      at,
    );
    expect(units.rru).toBe(1);
    expect(meter.snapshot().dynaliteChecks).toEqual({ agree: 1, disagree: 0 });
  });

  it('takes the partition a query reads from its key condition', () => {
    const input = {
      KeyConditionExpression: 'owner_pk = :o AND begins_with(owner_sk, :p)',
      ExpressionAttributeValues: { ':o': s('OWNER#me'), ':p': s('2026') },
    };
    expect(queryPartition(input, 'owner_pk')).toBe('OWNER#me');
  });

  it('peaks over fixed 1-second windows', () => {
    const windows = new Map([
      [
        'a',
        new Map([
          [1, 5],
          [2, 7],
        ]),
      ],
      ['b', new Map([[1, 9]])],
    ]);
    expect(peak(windows)).toEqual({ partition: 'b', units: 9, at: 1000 });
  });

  function job(): Item {
    return {
      pk: s('JOB#job_1'),
      sk: s('JOB'),
      owner_pk: s('OWNER#me'),
      owner_sk: s('1'),
      status: s('pending'),
    };
  }
  function key(): Item {
    return { pk: s('JOB#job_1'), sk: s('JOB') };
  }
});
