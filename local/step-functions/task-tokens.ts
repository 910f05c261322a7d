import { randomBytes } from 'node:crypto';
import { checkPayload, StatesError } from './quotas.ts';

/**
 * The open callback tasks of the embedded orchestrator (Task states on a `.waitForTaskToken`
 * resource) and the three calls that answer them, with Step Functions' semantics:
 * SendTaskSuccess ends the task with its output, SendTaskFailure with an error, and
 * SendTaskHeartbeat restarts its heartbeat clock. A task whose clock runs out fails with
 * States.Timeout, which is what Step Functions records for a missed heartbeat. A token whose task
 * has ended answers TaskTimedOut; one never handed out, TaskDoesNotExist; a malformed one,
 * InvalidToken (the SDK's exception names, so callers handle both the same way).
 */

const TOKEN_PREFIX = 'sdbatch-local-task:';
/** Ended tokens remembered for TaskTimedOut; older ones answer TaskDoesNotExist, also "gone". */
const CLOSED_REMEMBERED = 10_000;

/** Errors of the SendTask* calls, named like the AWS SDK's exceptions. */
export class TaskTokenError extends Error {
  constructor(name: 'TaskTimedOut' | 'TaskDoesNotExist' | 'InvalidToken' | 'InvalidOutput', message: string) {
    super(message);
    this.name = name;
  }
}

export interface Timers {
  set(run: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

export const realTimers: Timers = {
  set: (run, ms) => setTimeout(run, ms).unref(),
  clear: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

interface OpenTask {
  execution: string;
  resolve: (output: unknown) => void;
  reject: (error: Error) => void;
  heartbeatMs?: number;
  heartbeat?: unknown;
  deadline?: unknown;
}

export interface MintOptions {
  /** HeartbeatSeconds of the state: the task fails if no heartbeat comes within it. */
  heartbeatSeconds?: number;
  /** TimeoutSeconds of the state: the task fails after it, heartbeats or not. */
  timeoutSeconds?: number;
}

export class TaskTokens {
  private readonly open = new Map<string, OpenTask>();
  /** Tokens whose task has ended, so a late answer gets TaskTimedOut rather than TaskDoesNotExist. */
  private readonly closed = new Set<string>();
  private readonly timers: Timers;
  private readonly tokenLength: number;

  /** `tokenLength`: tokens padded to it (AWS's are about 1,000 characters; ours 51 unless asked). */
  constructor(timers: Timers = realTimers, tokenLength = 0) {
    this.timers = timers;
    this.tokenLength = tokenLength;
  }

  /** A new task waiting for its token; `result` settles when it is answered or times out. */
  mint(execution: string, options: MintOptions = {}): { token: string; result: Promise<unknown> } {
    const random = `${TOKEN_PREFIX}${randomBytes(24).toString('base64url')}`;
    const token = random.padEnd(this.tokenLength, '0');
    const result = new Promise<unknown>((resolve, reject) => {
      const task: OpenTask = { execution, resolve, reject };
      this.open.set(token, task);
      if (options.heartbeatSeconds !== undefined) {
        task.heartbeatMs = options.heartbeatSeconds * 1000;
        this.armHeartbeat(token, task);
      }
      if (options.timeoutSeconds !== undefined) {
        task.deadline = this.timers.set(
          () =>
            this.close(
              token,
              new StatesError(
                'States.Timeout',
                `no answer within TimeoutSeconds (${options.timeoutSeconds})`,
              ),
            ),
          options.timeoutSeconds * 1000,
        );
      }
    });
    return { token, result };
  }

  sendTaskSuccess(taskToken: string, output: string): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(output);
    } catch {
      throw new TaskTokenError('InvalidOutput', 'output is not valid JSON');
    }
    const task = this.find(taskToken);
    const tooLarge = checkPayload('the task output', parsed);
    if (tooLarge) {
      this.close(taskToken, tooLarge);
      return;
    }
    this.settle(taskToken, task);
    task.resolve(parsed);
  }

  sendTaskFailure(taskToken: string, error = '', cause = ''): void {
    const task = this.find(taskToken);
    this.settle(taskToken, task);
    task.reject(new StatesError(error, cause));
  }

  sendTaskHeartbeat(taskToken: string): void {
    const task = this.find(taskToken);
    if (task.heartbeatMs !== undefined) {
      this.timers.clear(task.heartbeat);
      this.armHeartbeat(taskToken, task);
    }
  }

  /** Every open task of a stopped execution ends; late answers get TaskTimedOut. */
  closeExecution(execution: string): void {
    for (const [token, task] of this.open) {
      if (task.execution === execution)
        this.close(token, new StatesError('States.Runtime', 'execution stopped'));
    }
  }

  /** Open callback tasks, for instrumentation and tests. */
  get waiting(): number {
    return this.open.size;
  }

  private armHeartbeat(token: string, task: OpenTask): void {
    task.heartbeat = this.timers.set(
      () =>
        this.close(
          token,
          new StatesError(
            'States.Timeout',
            `no heartbeat within HeartbeatSeconds (${(task.heartbeatMs ?? 0) / 1000})`,
          ),
        ),
      task.heartbeatMs ?? 0,
    );
  }

  private find(token: string): OpenTask {
    if (!token.startsWith(TOKEN_PREFIX)) throw new TaskTokenError('InvalidToken', 'not a task token');
    const task = this.open.get(token);
    if (task) return task;
    if (this.closed.has(token)) {
      throw new TaskTokenError('TaskTimedOut', 'the task of this token has already ended');
    }
    throw new TaskTokenError('TaskDoesNotExist', 'no task has this token');
  }

  private settle(token: string, task: OpenTask): void {
    this.timers.clear(task.heartbeat);
    this.timers.clear(task.deadline);
    this.open.delete(token);
    this.closed.add(token);
    if (this.closed.size > CLOSED_REMEMBERED) {
      const [oldest] = this.closed;
      this.closed.delete(oldest as string);
    }
  }

  private close(token: string, error: Error): void {
    const task = this.open.get(token);
    if (!task) return;
    this.settle(token, task);
    task.reject(error);
  }
}
