/**
 * What the benchmark counts inside the embedded stack, through the optional hooks of
 * local/stack.ts: Step Functions events per execution, Task handler wall times, and every AWS SDK
 * request (DynamoDB with its capacity units, as bench/capacity-meter.ts counts them; S3 by command).
 */

import type { StackMetrics } from '../local/stack.ts';
import type { WorkflowEvent } from '../local/step-functions/local-orchestrator.ts';
import { CapacityMeter, type CapacitySnapshot } from './capacity-meter.ts';

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
  capacity: CapacitySnapshot;
}

type Handler = (args: { input: Record<string, unknown> }) => Promise<{ output: Record<string, unknown> }>;
type Middleware = (next: Handler, context: Record<string, unknown> & { commandName?: string }) => Handler;
interface StackLike {
  add(middleware: Middleware, options: { step: string; name: string; priority?: string }): void;
}

export class Metrics {
  private tasks: TaskRecord[] = [];
  private executions = new Map<string, ExecutionRecord>();
  private aws = new Map<string, AwsRequestCount>();
  private awsTimeline: AwsRequestTiming[] = [];
  private readonly capacity = new CapacityMeter();
  private readonly endWaiters = new Map<string, Array<(e: ExecutionRecord) => void>>();

  reset(): void {
    this.tasks = [];
    this.aws.clear();
    this.awsTimeline = [];
    this.capacity.reset();
    // Executions are kept: a job's end is waited for across resets.
  }

  snapshot(): MetricsSnapshot {
    return {
      tasks: this.tasks,
      executions: Object.fromEntries(this.executions),
      aws: [...this.aws.values()],
      awsTimeline: this.awsTimeline,
      capacity: this.capacity.snapshot(),
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
      // Before the document client marshals the input (just before the serializer) and after it
      // set it afresh (the initialize step): ask for the consumed capacity and the item images the
      // meter needs. What the code under test asked for is given back unchanged.
      middlewareStack.add(
        (next, context) => (args) => {
          const asked = this.capacity.prepare(context.commandName ?? '', args.input);
          context.benchAsked = asked;
          return next({ ...args, input: asked.input });
        },
        { step: 'serialize', name: 'benchConsumedCapacity', priority: 'high' },
      );
      // Outside the deserializer, where the answer is parsed (the request count below sits inside
      // it, where there is only the HTTP response): price the request, then take out what the
      // meter asked for.
      middlewareStack.add(
        (next, context) => async (args) => {
          const command = context.commandName ?? 'unknown';
          const asked = context.benchAsked as ReturnType<CapacityMeter['prepare']> | undefined;
          const at = performance.timeOrigin + performance.now();
          try {
            const result = await next(args);
            this.addUnits(
              command,
              args.input,
              this.capacity.record(command, args.input, result.output, undefined, at),
            );
            asked?.restore(result.output);
            return result;
          } catch (error) {
            this.addUnits(
              command,
              args.input,
              this.capacity.record(command, args.input, undefined, error as Error, at),
            );
            throw error;
          }
        },
        { step: 'deserialize', name: 'benchCapacity', priority: 'high' },
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
          this.entry(service, command, args.input).requests++;
          return result;
        } catch (error) {
          timing();
          const entry = this.entry(service, command, args.input);
          entry.requests++;
          entry.errors++;
          throw error;
        }
      },
      { step: 'deserialize', name: 'benchRequestCount', priority: 'low' },
    );
  }

  private entry(service: string, command: string, input: Record<string, unknown>): AwsRequestCount {
    const progress = /#current = :current/.test(String(input.UpdateExpression ?? ''));
    const key = `${service} ${command}${progress ? ' (progress)' : ''}`;
    let entry = this.aws.get(key);
    if (!entry) {
      entry = { service, command, requests: 0, errors: 0, rru: 0, wru: 0, ...(progress ? { progress } : {}) };
      this.aws.set(key, entry);
    }
    return entry;
  }

  private addUnits(
    command: string,
    input: Record<string, unknown>,
    units: { rru: number; wru: number },
  ): void {
    const entry = this.entry('DynamoDB', command, input);
    entry.rru += units.rru;
    entry.wru += units.wru;
  }
}
