/**
 * The DynamoDB capacity the stack's requests consume, as on-demand bills it (bench/capacity.ts),
 * per operation (command, table or index, partition) and per second on each partition key.
 *
 * Reads take dynalite's ConsumedCapacity: it sizes every item a Query or Scan evaluated (the
 * filtered-out ones too), which the response alone cannot show; where the response does show
 * them all, the meter sizes them itself and counts whether the two agree. Writes are sized here:
 * dynalite bills neither the indexes nor a failed condition. The item before and after each write
 * comes from the write's own answer (the meter asks for ALL_OLD or ALL_NEW when the code asked for
 * nothing, and hands the code the answer it asked for) and from a mirror of every item the stack
 * has written, which is how the bench's stacks start: empty.
 */
import {
  type Item,
  indexWrites,
  itemSize,
  JOBS_TABLE_SHAPE,
  keyText,
  partitionShape,
  queryPartition,
  readUnits,
  type TableShape,
  wireItem,
  writeUnits,
} from './capacity.ts';

export interface CapacityOp {
  command: string;
  /** `table` or the index's name. */
  target: string;
  /** The partition key with its ids made generic (JOB#*). */
  partition: string;
  requests: number;
  rru: number;
  wru: number;
  /** Writes refused by their condition (billed all the same). */
  failedConditions: number;
}

export interface PartitionPeak {
  /** `table JOB#job_…` or `<index> <value>`. */
  partition: string;
  /** Units consumed in its busiest 1-second window. */
  units: number;
  /** That window's start, epoch ms. */
  at: number;
}

export interface CapacitySnapshot {
  ops: CapacityOp[];
  peakRead?: PartitionPeak;
  peakWrite?: PartitionPeak;
  failedConditionalWrites: number;
  /** Reads the meter could size itself, and whether dynalite's figure matched. */
  dynaliteChecks: { agree: number; disagree: number; example?: string };
  /** Time the meter itself took in the stack's process (sizing items), ms. */
  meterMs: number;
}

export interface Units {
  rru: number;
  wru: number;
}

type Input = Record<string, unknown>;
type Output = Record<string, unknown>;

const WRITES = new Set(['PutItemCommand', 'UpdateItemCommand', 'DeleteItemCommand']);

export class CapacityMeter {
  private readonly mirror = new Map<string, Item>();
  private readonly ops = new Map<string, CapacityOp>();
  private readonly reads = new Map<string, Map<number, number>>();
  private readonly writes = new Map<string, Map<number, number>>();
  private failed = 0;
  private meterMs = 0;
  private queries = 0;
  private checks: CapacitySnapshot['dynaliteChecks'] = { agree: 0, disagree: 0 };

  private readonly table: TableShape;

  constructor(table: TableShape = JOBS_TABLE_SHAPE) {
    this.table = table;
  }

  /** Forgets what was counted; the mirror of the table is kept (it is the table, not a count). */
  reset(): void {
    this.ops.clear();
    this.reads.clear();
    this.writes.clear();
    this.failed = 0;
    this.meterMs = 0;
    this.checks = { agree: 0, disagree: 0 };
  }

  /**
   * The request as sent: with ReturnConsumedCapacity, and with the item image a write did not ask
   * for; `restore` takes both out of the answer again before the code sees it.
   */
  prepare(command: string, input: Input): { input: Input; restore: (output: Output | undefined) => void } {
    const sent: Input = { ...input, ReturnConsumedCapacity: 'TOTAL' };
    const askedNothing = (input.ReturnValues ?? 'NONE') === 'NONE';
    let added = false;
    if (askedNothing && (command === 'PutItemCommand' || command === 'DeleteItemCommand')) {
      sent.ReturnValues = 'ALL_OLD';
      added = true;
    } else if (askedNothing && command === 'UpdateItemCommand') {
      sent.ReturnValues = 'ALL_NEW';
      added = true;
    }
    const askedCapacity = input.ReturnConsumedCapacity !== undefined;
    return {
      input: sent,
      restore: (output) => {
        if (!output) return;
        if (added) delete output.Attributes;
        if (!askedCapacity) delete output.ConsumedCapacity;
      },
    };
  }

  /** Counts one request (as sent by `prepare`) and returns its units. */
  record(
    command: string,
    input: Input,
    answer: Output | undefined,
    error: Error | undefined,
    at: number,
  ): Units {
    const began = performance.now();
    try {
      return this.price(command, input, answer, error, at);
    } finally {
      this.meterMs += performance.now() - began;
    }
  }

  private price(...[command, input, answer, error, at]: Parameters<CapacityMeter['record']>): Units {
    // The document client hands the answer's items back plain before the meter sees them.
    const output = answer && wireOutput(answer);
    if (WRITES.has(command)) return this.write(command, input, output, error, at);
    if (error || !output) return { rru: 0, wru: 0 };
    switch (command) {
      case 'GetItemCommand':
        return this.get(input, output, at);
      case 'QueryCommand':
      case 'ScanCommand':
        return this.query(command, input, output, at);
      case 'BatchGetItemCommand':
        return this.batchGet(input, output, at);
      case 'BatchWriteItemCommand':
        return this.batchWrite(input, at);
      default:
        return { rru: 0, wru: 0 };
    }
  }

  snapshot(): CapacitySnapshot {
    return {
      ops: [...this.ops.values()],
      peakRead: peak(this.reads),
      peakWrite: peak(this.writes),
      failedConditionalWrites: this.failed,
      dynaliteChecks: { ...this.checks },
      meterMs: this.meterMs,
    };
  }

  private get(input: Input, output: Output, at: number): Units {
    const item = output.Item as Item | undefined;
    const mine = readUnits(itemSize(item), input.ConsistentRead === true);
    const projected = input.ProjectionExpression !== undefined || input.AttributesToGet !== undefined;
    const rru = this.dynalite(output, projected ? undefined : mine, input.ConsistentRead === true) ?? mine;
    const partition = keyText((input.Key as Item | undefined)?.[this.table.partitionKey]);
    this.add('GetItemCommand', 'table', partition, { rru, wru: 0 }, at);
    return { rru, wru: 0 };
  }

  private query(command: string, input: Input, output: Output, at: number): Units {
    const indexName = input.IndexName as string | undefined;
    const index = this.table.indexes.find((i) => i.name === indexName);
    const consistent = input.ConsistentRead === true && !indexName;
    // Sizing a whole pool partition's answer on every read would slow the stack it measures: the
    // items are sized where dynalite gave no figure, and for a sample of the answers it did.
    const answered = (output.ConsumedCapacity as { CapacityUnits?: number } | undefined)?.CapacityUnits;
    // Only when the answer holds every item evaluated, whole, can the meter size them itself.
    const whole =
      !indexName &&
      input.FilterExpression === undefined &&
      input.ProjectionExpression === undefined &&
      input.Select === undefined;
    const size = answered === undefined || (whole && this.sample());
    const mine = size
      ? readUnits(
          ((output.Items ?? []) as Array<Record<string, unknown>>).reduce(
            (t, i) => t + itemSize(wireItem(i)),
            0,
          ),
          consistent,
        )
      : undefined;
    const rru = this.dynalite(output, whole ? mine : undefined, consistent) ?? mine ?? 0;
    const partition =
      command === 'ScanCommand'
        ? '(scan)'
        : queryPartition(input, index ? index.partitionKey : this.table.partitionKey);
    this.add(command, indexName ?? 'table', partition, { rru, wru: 0 }, at);
    return { rru, wru: 0 };
  }

  /** Every read's answer is checked for the first 1,000 queries, then one in 20. */
  private sample(): boolean {
    this.queries++;
    return this.queries <= 1000 || this.queries % 20 === 0;
  }

  private batchGet(input: Input, output: Output, at: number): Units {
    const requested = (input.RequestItems ?? {}) as Record<string, { ConsistentRead?: boolean }>;
    const responses = (output.Responses ?? {}) as Record<string, Item[]>;
    let rru = 0;
    for (const [table, items] of Object.entries(responses)) {
      const consistent = requested[table]?.ConsistentRead === true;
      for (const item of items) {
        const units = readUnits(itemSize(item), consistent);
        rru += units;
        this.add(
          'BatchGetItemCommand',
          'table',
          keyText(item[this.table.partitionKey]),
          { rru: units, wru: 0 },
          at,
        );
      }
    }
    return { rru, wru: 0 };
  }

  private batchWrite(input: Input, at: number): Units {
    const total: Units = { rru: 0, wru: 0 };
    const requests = (input.RequestItems ?? {}) as Record<
      string,
      Array<{ PutRequest?: { Item: Item }; DeleteRequest?: { Key: Item } }>
    >;
    for (const [table, list] of Object.entries(requests)) {
      for (const request of list) {
        const key = request.PutRequest?.Item ?? request.DeleteRequest?.Key ?? {};
        const id = this.mirrorKey(table, key);
        const units = this.written(
          'BatchWriteItemCommand',
          id,
          this.mirror.get(id),
          request.PutRequest?.Item,
          at,
        );
        total.wru += units.wru;
      }
    }
    return total;
  }

  private write(
    command: string,
    input: Input,
    output: Output | undefined,
    error: Error | undefined,
    at: number,
  ): Units {
    const key = (input.Key ?? input.Item ?? {}) as Item;
    const id = this.mirrorKey(String(input.TableName), key);
    const known = this.mirror.get(id);
    const partition = keyText(key[this.table.partitionKey]);
    if (error) {
      if (error.name !== 'ConditionalCheckFailedException') return { rru: 0, wru: 0 };
      // Billed for the item as it stands (one unit if there is none); no index is written.
      const wru = writeUnits(known, undefined);
      this.failed++;
      this.add(command, 'table', partition, { rru: 0, wru }, at, true);
      return { rru: 0, wru };
    }
    const returned = output?.Attributes as Item | undefined;
    const returnValues = input.ReturnValues as string | undefined;
    let before = known;
    let after: Item | undefined;
    if (command === 'PutItemCommand') {
      if (returnValues === 'ALL_OLD') before = returned;
      after = input.Item as Item;
    } else if (command === 'DeleteItemCommand') {
      if (returnValues === 'ALL_OLD') before = returned;
      after = undefined;
    } else if (returnValues === 'ALL_NEW') {
      after = returned;
    } else if (returnValues === 'UPDATED_NEW') {
      after = withoutRemoved(deepMerge(known ?? {}, returned ?? {}), input);
    } else {
      // ALL_OLD or UPDATED_OLD: the new image is not in the answer; the old one stands for it.
      if (returnValues === 'ALL_OLD') before = returned;
      after = before;
    }
    return this.written(command, id, before, after, at);
  }

  /** A successful write from `before` to `after`: the table's units, each index's, and the mirror. */
  private written(
    command: string,
    id: string,
    before: Item | undefined,
    after: Item | undefined,
    at: number,
  ): Units {
    const partition = keyText((after ?? before)?.[this.table.partitionKey]) || id.split('\0')[1] || '?';
    let wru = writeUnits(before, after);
    this.add(command, 'table', partition, { rru: 0, wru }, at);
    for (const index of this.table.indexes) {
      for (const w of indexWrites(this.table, index, before, after)) {
        wru += w.units;
        this.add(command, index.name, w.partition, { rru: 0, wru: w.units }, at);
      }
    }
    if (after) this.mirror.set(id, after);
    else this.mirror.delete(id);
    return { rru: 0, wru };
  }

  private mirrorKey(table: string, key: Item): string {
    const { partitionKey, sortKey } = this.table;
    return `${table}\0${keyText(key[partitionKey])}\0${sortKey ? keyText(key[sortKey]) : ''}`;
  }

  /** dynalite's figure, checked against the meter's own where it has one. */
  private dynalite(output: Output, mine: number | undefined, consistent: boolean): number | undefined {
    const answered = (output.ConsumedCapacity as { CapacityUnits?: number } | undefined)?.CapacityUnits;
    // dynalite bills a Query that finds nothing 0 units; AWS rounds every read up to 4 KB.
    const theirs = answered === undefined ? undefined : Math.max(answered, readUnits(0, consistent));
    if (theirs !== undefined && mine !== undefined) {
      if (theirs === mine) this.checks.agree++;
      else {
        this.checks.disagree++;
        this.checks.example ??= `dynalite ${theirs}, sizes ${mine}`;
      }
    }
    return theirs;
  }

  private add(
    command: string,
    target: string,
    partition: string,
    units: Units,
    at: number,
    failed = false,
  ): void {
    const key = `${command}\0${target}\0${partitionShape(partition)}`;
    let op = this.ops.get(key);
    if (!op) {
      op = {
        command,
        target,
        partition: partitionShape(partition),
        requests: 0,
        rru: 0,
        wru: 0,
        failedConditions: 0,
      };
      this.ops.set(key, op);
    }
    // An index write is part of its table write's request, not a request of its own.
    if (target === 'table') op.requests++;
    op.rru += units.rru;
    op.wru += units.wru;
    if (failed) op.failedConditions++;
    const second = Math.floor(at / 1000);
    const label = `${target} ${partition}`;
    if (units.rru > 0) bump(this.reads, label, second, units.rru);
    if (units.wru > 0) bump(this.writes, label, second, units.wru);
  }
}

/** The answer with its single items in the wire form. */
function wireOutput(output: Output): Output {
  const items = (x: unknown) => (x as Array<Record<string, unknown>>).map(wireItem);
  const out: Output = { ...output };
  if (output.Item) out.Item = wireItem(output.Item as Record<string, unknown>);
  if (output.Attributes) out.Attributes = wireItem(output.Attributes as Record<string, unknown>);
  // A Query's items are sized (if at all) where they are read: see query().
  if (output.Responses) {
    out.Responses = Object.fromEntries(
      Object.entries(output.Responses as Record<string, unknown>).map(([t, list]) => [t, items(list)]),
    );
  }
  return out;
}

function bump(windows: Map<string, Map<number, number>>, label: string, second: number, units: number): void {
  let seconds = windows.get(label);
  if (!seconds) {
    seconds = new Map();
    windows.set(label, seconds);
  }
  seconds.set(second, (seconds.get(second) ?? 0) + units);
}

/** The partition with the most units in one 1-second window (fixed windows on the clock's seconds). */
export function peak(windows: Map<string, Map<number, number>>): PartitionPeak | undefined {
  let best: PartitionPeak | undefined;
  for (const [partition, seconds] of windows) {
    for (const [second, units] of seconds) {
      if (!best || units > best.units) best = { partition, units, at: second * 1000 };
    }
  }
  return best;
}

/** UPDATED_NEW answers hold the updated paths only: a map's other entries are kept from before. */
function deepMerge(base: Item, update: Item): Item {
  const merged: Item = { ...base };
  for (const [name, value] of Object.entries(update)) {
    const old = base[name];
    merged[name] =
      old?.M !== undefined && value.M !== undefined
        ? { M: deepMerge(old.M as Item, value.M as Item) }
        : value;
  }
  return merged;
}

/** Top-level attributes an update expression's REMOVE clause names are gone after it. */
function withoutRemoved(item: Item, input: Input): Item {
  const expression = String(input.UpdateExpression ?? '');
  const clause = /\bREMOVE\s+(.+?)(?=\s+\b(?:SET|ADD|DELETE)\b|$)/i.exec(expression)?.[1];
  if (!clause) return item;
  const names = (input.ExpressionAttributeNames ?? {}) as Record<string, string>;
  const out = { ...item };
  for (const path of clause.split(',').map((p) => p.trim())) {
    if (/[.[]/.test(path)) continue;
    delete out[names[path] ?? path];
  }
  return out;
}
