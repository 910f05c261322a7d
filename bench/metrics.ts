/**
 * What the benchmark counts inside the embedded stack, through the optional hooks of
 * local/stack.ts: Step Functions events per execution, Task handler wall times, and every AWS SDK
 * request (DynamoDB with its capacity units, S3 by command).
 */

import type { StackMetrics } from '../local/stack.ts';
import type { WorkflowEvent } from '../local/step-functions/local-orchestrator.ts';

export interface TaskRecord {
  state: string;
  jobId?: string;
  iteration?: number;
  /** Epoch ms. */
  startedAt: number;
  ms: number;
  /** The error's name when the handler threw (NoSlotAvailableError is the wait for a GPU slot). */
  error?: string;
  /** Its message, shortened (a refused slot says why). */
  reason?: string;
}

export interface ExecutionRecord {
  startedAt?: number;
  endedAt?: number;
  outcome?: string;
  /** StateEntered events, nested Map states included. */
  entered: number;
  /** StateRetried events: Step Functions bills each retry as a transition too. */
  retried: number;
  enteredByState: Record<string, number>;
}

export interface AwsRequestCount {
  service: string;
  command: string;
  requests: number;
  errors: number;
  /** DynamoDB read request units (on-demand), estimated as AWS bills them. */
  rru: number;
  /** DynamoDB write request units, the owner index's writes included. */
  wru: number;
  /** Live-progress writes: made every few seconds while the GPU samples, so they grow with GPU time. */
  progress?: boolean;
}

/** One AWS SDK request as sent: command, start (epoch ms) and round trip. */
export interface AwsRequestTiming {
  command: string;
  startedAt: number;
  ms: number;
}

export interface MetricsSnapshot {
  tasks: TaskRecord[];
  executions: Record<string, ExecutionRecord>;
  aws: AwsRequestCount[];
  awsTimeline: AwsRequestTiming[];
}

type Middleware = (
  next: (args: { input: Record<string, unknown> }) => Promise<{ output: Record<string, unknown> }>,
  context: { commandName?: string },
) => (args: { input: Record<string, unknown> }) => Promise<{ output: Record<string, unknown> }>;
interface StackLike {
  add(middleware: Middleware, options: { step: string; name: string; priority?: string }): void;
}

const READS = new Set(['GetItemCommand', 'QueryCommand', 'ScanCommand', 'BatchGetItemCommand']);
const WRITES = new Set(['PutItemCommand', 'UpdateItemCommand', 'DeleteItemCommand', 'BatchWriteItemCommand']);

export class Metrics {
  private tasks: TaskRecord[] = [];
  private executions = new Map<string, ExecutionRecord>();
  private aws = new Map<string, AwsRequestCount>();
  private awsTimeline: AwsRequestTiming[] = [];
  private readonly endWaiters = new Map<string, Array<(e: ExecutionRecord) => void>>();

  reset(): void {
    this.tasks = [];
    this.aws.clear();
    this.awsTimeline = [];
    // Executions are kept: a job's end is waited for across resets.
  }

  snapshot(): MetricsSnapshot {
    return {
      tasks: this.tasks,
      executions: Object.fromEntries(this.executions),
      aws: [...this.aws.values()],
      awsTimeline: this.awsTimeline,
    };
  }

  /** Resolves when the job's execution has ended (at once if it already has). */
  executionEnd(jobId: string): Promise<ExecutionRecord> {
    const known = this.executions.get(jobId);
    if (known?.endedAt !== undefined) return Promise.resolve(known);
    return new Promise((resolve) => {
      const list = this.endWaiters.get(jobId) ?? [];
      list.push(resolve);
      this.endWaiters.set(jobId, list);
    });
  }

  hooks(): StackMetrics {
    return {
      event: (jobId, event) => this.onEvent(jobId, event),
      task: (state, input, startedAt, ms, error) => {
        const { job_id: jobId, iteration } = (input ?? {}) as { job_id?: string; iteration?: number };
        this.tasks.push({
          state,
          jobId,
          iteration,
          startedAt,
          ms,
          error: error === undefined ? undefined : ((error as Error).name ?? 'Error'),
          reason: error === undefined ? undefined : String((error as Error).message).slice(0, 160),
        });
      },
      instrumentClient: (service, client) => this.instrument(service, client.middlewareStack as unknown),
    };
  }

  private onEvent(jobId: string, event: WorkflowEvent): void {
    let record = this.executions.get(jobId);
    if (!record) {
      record = { entered: 0, retried: 0, enteredByState: {} };
      this.executions.set(jobId, record);
    }
    switch (event.type) {
      case 'ExecutionStarted':
        record.startedAt = event.timestamp;
        break;
      case 'StateEntered': {
        record.entered++;
        const name = event.state?.name ?? '?';
        record.enteredByState[name] = (record.enteredByState[name] ?? 0) + 1;
        break;
      }
      case 'StateRetried':
        record.retried++;
        break;
      case 'ExecutionSucceeded':
      case 'ExecutionFailed':
      case 'ExecutionAborted':
      case 'ExecutionTimeout': {
        record.endedAt = event.timestamp;
        record.outcome = event.type;
        for (const resolve of this.endWaiters.get(jobId) ?? []) resolve(record);
        this.endWaiters.delete(jobId);
        break;
      }
    }
  }

  private instrument(service: 'DynamoDB' | 'S3', stack: unknown): void {
    const middlewareStack = stack as StackLike;
    if (service === 'DynamoDB') {
      // Ask dynalite for the capacity each request consumed; the answer is otherwise unchanged.
      middlewareStack.add(
        (next) => (args) => next({ ...args, input: { ...args.input, ReturnConsumedCapacity: 'TOTAL' } }),
        { step: 'initialize', name: 'benchConsumedCapacity', priority: 'high' },
      );
    }
    // The deserialize step runs once per request actually sent (retries included), and never for
    // a presigned URL, whose middleware stops the chain before it.
    middlewareStack.add(
      (next, context) => async (args) => {
        const command = context.commandName ?? 'unknown';
        const startedAt = performance.timeOrigin + performance.now();
        const timing = () => {
          if (this.awsTimeline.length < 100_000) {
            const ms = performance.timeOrigin + performance.now() - startedAt;
            this.awsTimeline.push({ command: `${service} ${command}`, startedAt, ms });
          }
        };
        try {
          const result = await next(args);
          timing();
          this.count(service, command, args.input, result.output);
          return result;
        } catch (error) {
          timing();
          this.count(service, command, args.input, undefined, error as Error);
          throw error;
        }
      },
      { step: 'deserialize', name: 'benchRequestCount', priority: 'low' },
    );
  }

  private count(
    service: string,
    command: string,
    input: Record<string, unknown>,
    output: Record<string, unknown> | undefined,
    error?: Error,
  ): void {
    const progress = /#current = :current/.test(String(input.UpdateExpression ?? ''));
    const key = `${service} ${command}${progress ? ' (progress)' : ''}`;
    let entry = this.aws.get(key);
    if (!entry) {
      entry = { service, command, requests: 0, errors: 0, rru: 0, wru: 0, ...(progress ? { progress } : {}) };
      this.aws.set(key, entry);
    }
    entry.requests++;
    if (error) entry.errors++;
    if (service !== 'DynamoDB') return;
    const units = (output?.ConsumedCapacity as { CapacityUnits?: number } | undefined)?.CapacityUnits;
    if (READS.has(command)) {
      if (error) return;
      if (command === 'GetItemCommand') {
        entry.rru += units ?? (input.ConsistentRead ? 1 : 0.5);
        return;
      }
      entry.rru += queryUnits(input, output ?? {});
    } else if (WRITES.has(command)) {
      // A failed conditional write is billed too (at least one unit); it writes no index entry.
      if (error) {
        if (error.name === 'ConditionalCheckFailedException') entry.wru += 1;
        return;
      }
      const tableUnits = units ?? 1;
      entry.wru += tableUnits + indexWrites(command, input);
    }
  }
}

/** Whether a write is to a job item (sk JOB), the only items in the owner indexes. */
function isJobItem(input: Record<string, unknown>): boolean {
  const key = (input.Key ?? input.Item) as Record<string, { S?: string } | string> | undefined;
  const sk = key?.sk;
  return (typeof sk === 'string' ? sk : sk?.S) === 'JOB';
}

/**
 * Writes a job item's write causes in the two owner indexes, each entry under 1 KB (one unit):
 * by-owner projects keys and status, so a new item or a status change writes it; the sparse
 * active-by-owner index holds keys only, written when an item enters it (created) or leaves it
 * (ended). Counting, live progress and notes touch neither.
 */
function indexWrites(command: string, input: Record<string, unknown>): number {
  if (!isJobItem(input)) return 0;
  if (command === 'PutItemCommand') return 2;
  const expression = String(input.UpdateExpression ?? '');
  return (/#status = /.test(expression) ? 1 : 0) + (/active_owner_pk/.test(expression) ? 1 : 0);
}

/**
 * A Query reads ceil(bytes / 4 KB) units, half that when eventually consistent (always on an index).
 * Items returned are sized with DynamoDB's rules; a Select COUNT returns none, so each scanned item
 * is counted as one 4 KB unit (an upper bound).
 */
function queryUnits(input: Record<string, unknown>, output: Record<string, unknown>): number {
  const factor = input.ConsistentRead && !input.IndexName ? 1 : 0.5;
  const items = output.Items as Array<Record<string, unknown>> | undefined;
  if (input.Select === 'COUNT' || !items) {
    return Math.max(1, Number(output.ScannedCount ?? 0)) * factor;
  }
  const bytes = items.reduce((total, item) => total + itemSize(item), 0);
  return Math.max(1, Math.ceil(bytes / 4096)) * factor;
}

/** DynamoDB's item size: attribute names plus values (marshalled form). */
export function itemSize(item: Record<string, unknown>): number {
  let size = 0;
  for (const [name, value] of Object.entries(item)) size += Buffer.byteLength(name) + valueSize(value);
  return size;
}

function valueSize(value: unknown): number {
  const [type, v] = Object.entries(value as Record<string, unknown>)[0] ?? ['NULL', true];
  switch (type) {
    case 'S':
      return Buffer.byteLength(String(v));
    case 'N':
      return 1 + Math.ceil(String(v).replace(/[-.]/g, '').length / 2);
    case 'B':
      return (v as Uint8Array).length;
    case 'SS':
      return (v as string[]).reduce((t, s) => t + Buffer.byteLength(s), 0);
    case 'NS':
      return (v as string[]).reduce((t, s) => t + 1 + Math.ceil(s.length / 2), 0);
    case 'L':
      return 3 + (v as unknown[]).reduce<number>((t, x) => t + 1 + valueSize(x), 0);
    case 'M':
      return 3 + itemSize(v as Record<string, unknown>) + Object.keys(v as object).length;
    default:
      return 1;
  }
}
