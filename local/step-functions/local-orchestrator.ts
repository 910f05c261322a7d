import { randomUUID } from 'node:crypto';
import { StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import type { Orchestrator, WorkflowInput } from '../../core/ports.ts';
import { type FunctionArnVariable, substituteDefinition, TASK_FUNCTIONS } from '../../workflow/definition.ts';
import { FUNCTION_SIZING } from '../../workflow/function-sizing.ts';
import {
  clampMapConcurrency,
  type DefinitionJson,
  mapConcurrencyPaths,
  type TaskStateFacts,
  taskStateFacts,
} from './definition-facts.ts';
import { HistoryCount } from './history.ts';
import { checkPayload, QUOTAS, StatesError } from './quotas.ts';
import { realTimers, TaskTokens, type Timers } from './task-tokens.ts';

/**
 * What a handler learns of its invocation, as Lambda's context tells it: the time it has left;
 * and, since here a timed-out handler is not frozen as Lambda's would be, a signal that aborts
 * then, so it can stop its work.
 */
export interface TaskContext {
  getRemainingTimeInMillis(): number;
  signal: AbortSignal;
}

/** A Task state's work, by state name: a function's handler, or the function a callback task invokes. */
export type TaskHandlers = Record<string, (input: unknown, context?: TaskContext) => Promise<unknown>>;

/** Placeholder ARNs: each Task state is bound to its in-process handler by state name instead. */
const localArns = Object.fromEntries(
  Object.values(TASK_FUNCTIONS).map((variable) => [
    variable,
    `arn:aws:lambda:us-east-1:000000000000:function:sdbatch-${variable}`,
  ]),
) as Record<FunctionArnVariable, string>;

/** What `$$.Task.Token` reads in aws-local-stepfunctions; each callback task swaps in a token of its own. */
const TOKEN_PLACEHOLDER = '$$sdbatch-local-task-token$$';

export type ExecutionOutcome = 'succeeded' | 'failed' | 'aborted';

export interface LocalOrchestratorOptions {
  handlers: TaskHandlers;
  /** The definition to run; the project's own (definition.asl.json) by default. */
  definition?: DefinitionJson;
  /** Open callback tasks and the SendTask* calls; shared with whoever answers them. */
  tokens?: TaskTokens;
  /** Seconds between retries, per state; the tests shorten them, the stack keeps AWS's back-off. */
  retryIntervalOverrides?: Record<string, number | number[]>;
  onExecutionEnd?: (jobId: string, outcome: ExecutionOutcome, error?: unknown) => void;
  /** Optional instrumentation (the benchmark counts state transitions): every event of every execution. */
  onEvent?: (jobId: string, event: WorkflowEvent) => void;
  /**
   * Each Task state's function time-out in seconds, by state name; FUNCTION_SIZING's for the
   * project's definition. A handler still running then fails its task with Sandbox.Timedout.
   */
  functionTimeouts?: Record<string, number>;
  /** The timers and clock of those time-outs; the tests fire them by hand. */
  timers?: Timers;
  now?: () => number;
}

/** The fields of aws-local-stepfunctions' event logs that instrumentation reads. */
export interface WorkflowEvent {
  type: string;
  timestamp: number;
  index?: number;
  state?: { name: string; type: string; input?: unknown; output?: unknown };
}

/** How an execution ended, with its history's length as Step Functions would count it. */
export interface ExecutionRecord {
  outcome: ExecutionOutcome | 'running';
  historyEvents: number;
  error?: { name: string; message: string };
}

interface Running {
  abort: () => void;
  result: Promise<void>;
  history: HistoryCount;
  failure?: StatesError;
  stopped: boolean;
}

/** The error Step Functions sees from a Lambda function that ran past its time-out. */
export const LAMBDA_TIMEOUT = 'Sandbox.Timedout';

/** Ended executions remembered for historyOf (tests and the benchmark read them after the end). */
const ENDED_REMEMBERED = 1000;

/**
 * Runs the state machine definition CDK deploys, in-process, with the Lambda handlers, and holds
 * it to what Step Functions would: the history-event, payload and inline-Map quotas fail the
 * execution here as they would there, and callback tasks (.waitForTaskToken) wait for
 * SendTaskSuccess, SendTaskFailure or a missed heartbeat exactly as they do in AWS.
 */
export class LocalOrchestrator implements Orchestrator {
  readonly tokens: TaskTokens;
  private readonly machine: StateMachine;
  private readonly options: LocalOrchestratorOptions;
  private readonly facts: Map<string, TaskStateFacts>;
  private readonly mapPaths: Map<string, string>;
  private readonly functionTimeouts: Record<string, number>;
  private readonly timers: Timers;
  private readonly now: () => number;
  private readonly running = new Map<string, Running>();
  private readonly ended = new Map<string, ExecutionRecord>();

  constructor(options: LocalOrchestratorOptions) {
    this.options = options;
    this.tokens = options.tokens ?? new TaskTokens();
    const definition = options.definition ?? (JSON.parse(substituteDefinition(localArns)) as DefinitionJson);
    this.facts = taskStateFacts(definition);
    for (const state of this.facts.keys()) {
      if (!options.handlers[state]) throw new Error(`No handler for the Task state "${state}"`);
    }
    this.mapPaths = mapConcurrencyPaths(definition);
    this.functionTimeouts =
      options.functionTimeouts ??
      (options.definition
        ? {}
        : Object.fromEntries(Object.entries(FUNCTION_SIZING).map(([state, s]) => [state, s.timeoutSeconds])));
    this.timers = options.timers ?? realTimers;
    this.now = options.now ?? Date.now;
    this.machine = new StateMachine(clampMapConcurrency(definition) as unknown as StateMachineDefinition, {
      validationOptions: { checkArn: true, checkPaths: true },
    });
  }

  async start(jobId: string, input: WorkflowInput | Record<string, unknown>): Promise<void> {
    // Like StartExecution with the same name and input: the running execution is the answer.
    if (this.running.has(jobId)) return;
    const tooLarge = checkPayload('the execution input', input);
    if (tooLarge) throw tooLarge;
    this.ended.delete(jobId);
    const history = new HistoryCount(new Map([...this.facts].map(([name, f]) => [name, f.kind])));
    const run: Running = { abort: () => {}, result: Promise.resolve(), history, stopped: false };
    const execution = this.machine.run(input as unknown as Parameters<StateMachine['run']>[0], {
      overrides: {
        taskResourceLocalHandlers: this.bind(jobId, run) as never,
        retryIntervalOverrides: this.options.retryIntervalOverrides,
      },
      context: { Task: { Token: TOKEN_PLACEHOLDER } },
      noThrowOnAbort: true,
    });
    run.abort = () => {
      run.stopped = true;
      execution.abort();
      this.tokens.closeExecution(jobId);
    };
    const events = this.follow(jobId, run, execution.eventLogs as AsyncGenerator<WorkflowEvent>);
    run.result = (async () => {
      let outcome: ExecutionOutcome = 'succeeded';
      let error: unknown;
      try {
        await execution.result;
        if (run.failure) [outcome, error] = ['failed', run.failure];
        else if (run.stopped) outcome = 'aborted';
      } catch (caught) {
        // aws-local-stepfunctions wraps the state's error in an ExecutionError: keep the state's.
        [outcome, error] = ['failed', (caught as { cause?: unknown }).cause ?? caught];
        console.error(`execution ${jobId} failed`, error);
      }
      await events;
      this.remember(jobId, {
        outcome,
        historyEvents: history.events,
        ...(error instanceof Error ? { error: { name: error.name, message: error.message } } : {}),
      });
      this.running.delete(jobId);
      this.options.onExecutionEnd?.(jobId, outcome, error);
    })();
    this.running.set(jobId, run);
  }

  async stop(jobId: string): Promise<void> {
    const execution = this.running.get(jobId);
    if (!execution) return;
    execution.abort();
    await execution.result;
  }

  /** SendTaskSuccess: `output` is the JSON text the API takes. */
  sendTaskSuccess(taskToken: string, output: string): void {
    this.tokens.sendTaskSuccess(taskToken, output);
  }

  sendTaskFailure(taskToken: string, error?: string, cause?: string): void {
    this.tokens.sendTaskFailure(taskToken, error, cause);
  }

  sendTaskHeartbeat(taskToken: string): void {
    this.tokens.sendTaskHeartbeat(taskToken);
  }

  /** The execution's history length so far (or at its end), as Step Functions counts it. */
  historyOf(jobId: string): ExecutionRecord | undefined {
    const run = this.running.get(jobId);
    if (run) return { outcome: 'running', historyEvents: run.history.events };
    return this.ended.get(jobId);
  }

  activeExecutions(): number {
    return this.running.size;
  }

  isRunning(jobId: string): boolean {
    return this.running.has(jobId);
  }

  /** Waits for every execution to end (tests) or aborts them all (shutdown). */
  async drain(abort: boolean): Promise<void> {
    const executions = [...this.running.values()];
    if (abort) for (const e of executions) e.abort();
    await Promise.allSettled(executions.map((e) => e.result));
  }

  /** Ends the execution as Step Functions does when a quota is broken: failed, with that error. */
  private fail(run: Running, error: StatesError): void {
    if (run.failure || run.stopped) return;
    run.failure = error;
    run.abort();
  }

  private async follow(jobId: string, run: Running, events: AsyncGenerator<WorkflowEvent>) {
    for await (const event of events) {
      const total = run.history.record(event);
      this.options.onEvent?.(jobId, event);
      if (total > QUOTAS.historyEvents) {
        this.fail(
          run,
          new StatesError(
            'States.Runtime',
            `the execution's history reached ${QUOTAS.historyEvents} events, the Step Functions quota`,
          ),
        );
      }
      const state = event.state;
      if (event.type === 'StateExited' && state) {
        const tooLarge = checkPayload(`the output of "${state.name}"`, state.output);
        if (tooLarge) this.fail(run, tooLarge);
      }
      if (event.type === 'StateEntered' && state?.type === 'Map') {
        const path = this.mapPaths.get(state.name);
        const wanted = path ? readPath(state.input, path) : undefined;
        if (typeof wanted === 'number' && (wanted === 0 || wanted > QUOTAS.inlineMapConcurrency)) {
          // Step Functions would quietly run 40 at a time; a design that counts on more fails here.
          this.fail(
            run,
            new StatesError(
              'States.Runtime',
              `Map "${state.name}" asks for ${wanted || 'unlimited'} concurrent iterations; an inline Map runs at most ${QUOTAS.inlineMapConcurrency}`,
            ),
          );
        }
      }
    }
  }

  /** Every Task state's handler, as its resource runs it, refusing work once the execution has ended. */
  private bind(jobId: string, run: Running): TaskHandlers {
    return Object.fromEntries(
      [...this.facts].map(([state, facts]) => {
        const handler = this.options.handlers[state] as TaskHandlers[string];
        return [state, (input: unknown) => this.runTask(jobId, run, state, facts, handler, input)];
      }),
    );
  }

  private async runTask(
    jobId: string,
    run: Running,
    state: string,
    facts: TaskStateFacts,
    handler: TaskHandlers[string],
    input: unknown,
  ): Promise<unknown> {
    // aws-local-stepfunctions keeps running a state's Retry loop after abort (its back-off sleep
    // returns at once); Step Functions stops an execution's states outright.
    if (run.stopped) throw new StatesError('ExecutionStopped', `the execution was stopped before "${state}"`);
    const tooLarge = checkPayload(`the input of "${state}"`, input);
    if (tooLarge) throw tooLarge;
    const invoke = (event: unknown) => this.invoke(state, handler, event);
    if (facts.kind === 'function') return checked(state, await invoke(input));
    const { Payload } = input as { Payload?: unknown };
    if (facts.kind === 'integration') {
      return checked(state, { ExecutedVersion: '$LATEST', Payload: await invoke(Payload), StatusCode: 200 });
    }
    const { token, result } = this.tokens.mint(jobId, facts);
    // The task fails with whatever the invocation throws; the token dies with it.
    void result.catch(() => {});
    try {
      await invoke(withToken(Payload, token));
    } catch (error) {
      try {
        this.tokens.sendTaskFailure(token, (error as Error).name, (error as Error).message);
      } catch {
        // Answered before the invocation failed: the task has ended either way.
      }
      throw error;
    }
    run.history.submitted();
    return result;
  }

  /**
   * One invocation of a state's function, held to its time-out as Lambda holds it: the handler is
   * told the time it has left (a generate run pauses before it), and one still running then fails
   * with Lambda's error and message, which the state's Retry and Catch see, and its signal aborts
   * (a generate run launches no call after it). What it does after that is ignored, as a Lambda's
   * frozen environment would not answer any more.
   */
  private invoke(state: string, handler: TaskHandlers[string], event: unknown): Promise<unknown> {
    const seconds = this.functionTimeouts[state];
    if (seconds === undefined) return handler(event);
    const startedAt = this.now();
    const endsAt = startedAt + seconds * 1000;
    const stop = new AbortController();
    const work = handler(event, {
      getRemainingTimeInMillis: () => Math.max(0, endsAt - this.now()),
      signal: stop.signal,
    });
    return new Promise((resolve, reject) => {
      const timer = this.timers.set(() => {
        stop.abort();
        const elapsed = ((this.now() - startedAt) / 1000).toFixed(2);
        reject(
          new StatesError(
            LAMBDA_TIMEOUT,
            `RequestId: ${randomUUID()} Error: Task timed out after ${elapsed} seconds`,
          ),
        );
      }, seconds * 1000);
      work.then(
        (output) => {
          this.timers.clear(timer);
          resolve(output);
        },
        (error: unknown) => {
          this.timers.clear(timer);
          reject(error);
        },
      );
    });
  }

  private remember(jobId: string, record: ExecutionRecord): void {
    this.ended.set(jobId, record);
    if (this.ended.size > ENDED_REMEMBERED) {
      const [oldest] = this.ended.keys();
      this.ended.delete(oldest as string);
    }
  }
}

function checked(state: string, output: unknown): unknown {
  const tooLarge = checkPayload(`the result of "${state}"`, output);
  if (tooLarge) throw tooLarge;
  return output;
}

/** The payload with every `$$.Task.Token` placeholder replaced by this task's own token. */
function withToken(value: unknown, token: string): unknown {
  if (value === TOKEN_PLACEHOLDER) return token;
  if (Array.isArray(value)) return value.map((v) => withToken(v, token));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withToken(v, token)]));
  }
  return value;
}

/** A reference path of plain fields ($.a.b), the only kind the definition uses for concurrency. */
function readPath(input: unknown, path: string): unknown {
  let value: unknown = input;
  for (const field of path
    .replace(/^\$\.?/, '')
    .split('.')
    .filter(Boolean)) {
    value = value && typeof value === 'object' ? (value as Record<string, unknown>)[field] : undefined;
  }
  return value;
}
