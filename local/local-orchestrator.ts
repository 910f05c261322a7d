import { StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import {
  type FunctionArnVariable,
  substituteDefinition,
  TASK_FUNCTIONS,
  type TaskStateName,
} from '../cdk/workflow/definition.ts';
import type { Orchestrator, WorkflowInput } from '../core/ports.ts';

export type TaskHandlers = Record<TaskStateName, (input: unknown) => Promise<unknown>>;

/** Placeholder ARNs: each Task state is bound to its in-process handler by state name instead. */
const localArns = Object.fromEntries(
  Object.values(TASK_FUNCTIONS).map((variable) => [
    variable,
    `arn:aws:lambda:us-east-1:000000000000:function:sdbatch-${variable}`,
  ]),
) as Record<FunctionArnVariable, string>;

export interface LocalOrchestratorOptions {
  handlers: TaskHandlers;
  /** Seconds between retries, per state; the tests shorten them, the stack keeps AWS's back-off. */
  retryIntervalOverrides?: Record<string, number | number[]>;
  onExecutionEnd?: (jobId: string, outcome: 'succeeded' | 'failed' | 'aborted', error?: unknown) => void;
  /** Optional instrumentation (the benchmark counts state transitions): every event of every execution. */
  onEvent?: (jobId: string, event: WorkflowEvent) => void;
}

/** The fields of aws-local-stepfunctions' event logs that instrumentation reads. */
export interface WorkflowEvent {
  type: string;
  timestamp: number;
  index?: number;
  state?: { name: string; type: string };
}

/** Runs the state machine definition CDK deploys, in-process, with the Lambda handlers. */
export class LocalOrchestrator implements Orchestrator {
  private readonly machine: StateMachine;
  private readonly options: LocalOrchestratorOptions;
  private readonly running = new Map<string, { abort: () => void; result: Promise<unknown> }>();

  constructor(options: LocalOrchestratorOptions) {
    this.options = options;
    const definition = JSON.parse(substituteDefinition(localArns)) as StateMachineDefinition;
    this.machine = new StateMachine(definition, { validationOptions: { checkArn: true, checkPaths: true } });
  }

  async start(jobId: string, input: WorkflowInput): Promise<void> {
    // Like StartExecution with the same name and input: the running execution is the answer.
    if (this.running.has(jobId)) return;
    const aborted = { value: false };
    const execution = this.machine.run(input as unknown as Parameters<StateMachine['run']>[0], {
      overrides: {
        taskResourceLocalHandlers: stopAfterAbort(this.options.handlers, aborted) as never,
        retryIntervalOverrides: this.options.retryIntervalOverrides,
      },
      noThrowOnAbort: true,
    });
    const result = execution.result.then(
      () => this.options.onExecutionEnd?.(jobId, 'succeeded'),
      (error: unknown) => {
        console.error(`execution ${jobId} failed`, error);
        this.options.onExecutionEnd?.(jobId, 'failed', error);
      },
    );
    const { onEvent } = this.options;
    if (onEvent)
      void (async () => {
        for await (const event of execution.eventLogs) onEvent(jobId, event);
      })();
    const abort = () => {
      aborted.value = true;
      execution.abort();
    };
    this.running.set(jobId, { abort, result });
    void result.finally(() => this.running.delete(jobId));
  }

  async stop(jobId: string): Promise<void> {
    const execution = this.running.get(jobId);
    if (!execution) return;
    execution.abort();
    await execution.result;
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
}

/** Thrown into an aborted execution's states; no Retry matches it, so the execution winds down. */
class ExecutionStoppedError extends Error {
  override readonly name = 'ExecutionStoppedError';
}

/**
 * aws-local-stepfunctions keeps running a state's Retry loop after abort (its back-off sleep
 * returns at once), which would spin on "no slot" forever. Step Functions stops an execution's
 * states outright; refusing every task of an aborted execution does the same here.
 */
function stopAfterAbort(handlers: TaskHandlers, aborted: { value: boolean }): TaskHandlers {
  return Object.fromEntries(
    Object.entries(handlers).map(([state, handler]) => [
      state,
      async (input: unknown) => {
        if (aborted.value) throw new ExecutionStoppedError(`the execution was stopped before "${state}"`);
        return handler(input);
      },
    ]),
  ) as TaskHandlers;
}
