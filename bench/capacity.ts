/**
 * DynamoDB's on-demand units as AWS bills them, from the sizes of what was read and written
 * (developer guide: "DynamoDB item sizes and formats", "Read/write capacity mode", "Global
 * secondary indexes: writes"). The items are in the wire (marshalled) form, as the SDK's
 * middleware sees them.
 */
import { JOBS_TABLE } from '../adapters/jobs-table.ts';

export type AttributeValue = Record<string, unknown>;
export type Item = Record<string, AttributeValue>;

const READ_UNIT_BYTES = 4096;
const WRITE_UNIT_BYTES = 1024;

const TYPES = new Set(['S', 'N', 'B', 'SS', 'NS', 'BS', 'M', 'L', 'NULL', 'BOOL']);
const isWireValue = (v: unknown): boolean =>
  typeof v === 'object' &&
  v !== null &&
  !(v instanceof Uint8Array) &&
  Object.keys(v).length === 1 &&
  TYPES.has(Object.keys(v)[0] ?? '');

/**
 * An item in the wire form, whichever form it is in: the document client hands its callers (and
 * any middleware outside its own) items as plain values.
 */
export function wireItem(item: Record<string, unknown>): Item {
  if (Object.values(item).every(isWireValue)) return item as Item;
  return Object.fromEntries(
    Object.entries(item)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => [k, wireValue(v)]),
  );
}

function wireValue(v: unknown): AttributeValue {
  if (v === null) return { NULL: true };
  if (typeof v === 'string') return { S: v };
  if (typeof v === 'number' || typeof v === 'bigint') return { N: String(v) };
  if (typeof v === 'boolean') return { BOOL: v };
  if (v instanceof Uint8Array) return { B: v };
  if (v instanceof Set) {
    const members = [...v];
    if (members.every((m) => typeof m === 'string')) return { SS: members };
    if (members.every((m) => typeof m === 'number' || typeof m === 'bigint'))
      return { NS: members.map(String) };
    return { BS: members };
  }
  if (Array.isArray(v)) return { L: v.map(wireValue) };
  return { M: wireItem(v as Record<string, unknown>) };
}

/** An item's size: the UTF-8 lengths of its attribute names plus the sizes of their values. */
export function itemSize(item: Item | undefined): number {
  if (!item) return 0;
  let size = 0;
  for (const [name, value] of Object.entries(item)) size += Buffer.byteLength(name) + valueSize(value);
  return size;
}

/**
 * A number: 1 byte per two significant digits (leading and trailing zeros trimmed) plus 1. A
 * binary: its raw bytes. Null and Boolean: 1. List and Map: 3 bytes plus 1 per element.
 */
export function valueSize(value: AttributeValue): number {
  const [type, v] = Object.entries(value)[0] ?? ['NULL', true];
  switch (type) {
    case 'S':
      return Buffer.byteLength(String(v));
    case 'N':
      return numberSize(String(v));
    case 'B':
      return binarySize(v);
    case 'SS':
      return (v as string[]).reduce((t, s) => t + Buffer.byteLength(s), 0);
    case 'NS':
      return (v as string[]).reduce((t, s) => t + numberSize(s), 0);
    case 'BS':
      return (v as unknown[]).reduce<number>((t, b) => t + binarySize(b), 0);
    case 'L':
      return 3 + (v as AttributeValue[]).reduce((t, x) => t + 1 + valueSize(x), 0);
    case 'M':
      return 3 + Object.keys(v as Item).length + itemSize(v as Item);
    default:
      return 1;
  }
}

function numberSize(text: string): number {
  const digits = text
    .replace(/^[-+]/, '')
    .replace(/[eE].*$/, '')
    .replace('.', '')
    .replace(/^0+/, '')
    .replace(/0+$/, '');
  return 1 + Math.ceil(digits.length / 2);
}

function binarySize(v: unknown): number {
  return typeof v === 'string' ? Buffer.from(v, 'base64').length : (v as Uint8Array).length;
}

/** Reads of `bytes` (one item, or all a page evaluated): 4 KB units, half for eventually consistent. */
export function readUnits(bytes: number, consistent: boolean): number {
  return Math.max(1, Math.ceil(bytes / READ_UNIT_BYTES)) * (consistent ? 1 : 0.5);
}

/**
 * A Put, Update or Delete: 1 KB units of the larger of the item before and after. A write whose
 * condition failed pays for the item as it is (one unit if there is none): pass it as `before`.
 */
export function writeUnits(before: Item | undefined, after: Item | undefined): number {
  return Math.max(1, Math.ceil(Math.max(itemSize(before), itemSize(after)) / WRITE_UNIT_BYTES));
}

export interface IndexShape {
  name: string;
  partitionKey: string;
  sortKey?: string;
  /** Non-key attributes projected: [] for KEYS_ONLY. */
  projected: readonly string[];
}

export interface TableShape {
  partitionKey: string;
  sortKey?: string;
  indexes: readonly IndexShape[];
}

/** The jobs table and its two global secondary indexes, from the declaration the CDK app uses. */
export const JOBS_TABLE_SHAPE: TableShape = {
  partitionKey: JOBS_TABLE.partitionKey,
  sortKey: JOBS_TABLE.sortKey,
  indexes: [
    { ...JOBS_TABLE.ownerIndex },
    { name: JOBS_TABLE.activeIndex.name, partitionKey: JOBS_TABLE.activeIndex.partitionKey, projected: [] },
  ],
};

/** The item's entry in an index (its keys, the table's keys, the projected attributes), if it has the index's keys. */
export function indexEntry(table: TableShape, index: IndexShape, item: Item | undefined): Item | undefined {
  if (!item) return undefined;
  const keys = [index.partitionKey, index.sortKey].filter((k): k is string => k !== undefined);
  if (keys.some((k) => item[k] === undefined)) return undefined;
  const names = [...keys, table.partitionKey, table.sortKey, ...index.projected];
  const entry: Item = {};
  for (const name of names) {
    const value = name === undefined ? undefined : item[name];
    if (name !== undefined && value !== undefined) entry[name] = value;
  }
  return entry;
}

export interface IndexWrite {
  index: string;
  /** The index partition written (the index's partition key value). */
  partition: string;
  units: number;
}

/**
 * What a table write costs in one index: nothing if the item's entry is unchanged (or absent
 * before and after); one write to put or remove an entry, or to change its projected attributes;
 * two when the index key changes (delete the old entry, put the new one).
 */
export function indexWrites(
  table: TableShape,
  index: IndexShape,
  before: Item | undefined,
  after: Item | undefined,
): IndexWrite[] {
  const old = indexEntry(table, index, before);
  const next = indexEntry(table, index, after);
  const partition = (entry: Item) => keyText(entry[index.partitionKey]);
  const write = (entry: Item, units: number): IndexWrite => ({
    index: index.name,
    partition: partition(entry),
    units,
  });
  if (!old && !next) return [];
  if (old && !next) return [write(old, writeUnits(old, undefined))];
  if (!old && next) return [write(next, writeUnits(undefined, next))];
  if (!old || !next) return [];
  const sameKeys = [index.partitionKey, index.sortKey].every(
    (k) => k === undefined || keyText(old[k]) === keyText(next[k]),
  );
  if (sameKeys) return sameItem(old, next) ? [] : [write(next, writeUnits(old, next))];
  return [write(old, writeUnits(old, undefined)), write(next, writeUnits(undefined, next))];
}

/** A key attribute's value as text (S, N or base64 B). */
export function keyText(value: AttributeValue | undefined): string {
  if (!value) return '';
  const v = Object.values(value)[0];
  return typeof v === 'string' ? v : Buffer.from(v as Uint8Array).toString('base64');
}

function sameItem(a: Item, b: Item): boolean {
  const names = Object.keys(a);
  return (
    names.length === Object.keys(b).length &&
    names.every((n) => JSON.stringify(a[n]) === JSON.stringify(b[n]))
  );
}

/**
 * The partition key value a Query reads: the `name = :value` (or `#alias = :value`) clause of its
 * key condition.
 */
export function queryPartition(input: Record<string, unknown>, partitionKey: string): string {
  const expression = String(input.KeyConditionExpression ?? '');
  const names = (input.ExpressionAttributeNames ?? {}) as Record<string, string>;
  const values = (input.ExpressionAttributeValues ?? {}) as Item;
  for (const match of expression.matchAll(/([#\w.]+)\s*=\s*(:\w+)/g)) {
    const [, left = '', right = ''] = match;
    if ((names[left] ?? left) === partitionKey) return keyText(values[right]);
  }
  return '?';
}

/** Ids in a partition key made generic, so that one row stands for all the jobs' (JOB#job_abc → JOB#*). */
export function partitionShape(partition: string): string {
  return partition.replace(/#[^#]+/g, '#*');
}
