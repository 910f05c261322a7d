/**
 * Counts an execution's history events the way Step Functions writes them, from the coarser
 * events aws-local-stepfunctions reports. The sequences are AWS's as recorded against the real
 * service (for instance LocalStack's snapshot tests under tests/aws/services/stepfunctions/v2):
 *
 * - execution: ExecutionStarted ... ExecutionSucceeded | ExecutionFailed | ExecutionAborted
 * - Task on a function ARN: TaskStateEntered, then per attempt LambdaFunctionScheduled,
 *   LambdaFunctionStarted and LambdaFunctionSucceeded | Failed | TimedOut, then TaskStateExited
 *   (also after a failure a Catch takes; not after one that fails the execution)
 * - Task on an integration (arn:aws:states:::lambda:invoke): the same with TaskScheduled,
 *   TaskStarted, TaskSucceeded | TaskFailed | TaskTimedOut
 * - callback Task (.waitForTaskToken): TaskSubmitted as well, once the invocation returns;
 *   SendTaskHeartbeat adds nothing
 * - Map: MapStateEntered, MapStateStarted, per iteration MapIterationStarted and
 *   MapIterationSucceeded | Failed (around the iteration's own events), MapStateSucceeded,
 *   MapStateExited
 * - Pass, Choice, Wait, Succeed: entered and exited; Fail: entered only
 */

/** How a Task state reaches its work, which decides its events. */
export type TaskKind = 'function' | 'integration' | 'callback';

export function taskKind(resource: string): TaskKind {
  if (resource.endsWith('.waitForTaskToken')) return 'callback';
  return resource.startsWith('arn:aws:states:::') ? 'integration' : 'function';
}

/** The events of aws-local-stepfunctions' log this accounting reads. */
export interface LibraryEvent {
  type: string;
  index?: number;
  state?: { name: string; type: string };
}

/** Scheduled and Started: what every attempt of a Task opens with. */
const ATTEMPT_OPENING = 2;

export class HistoryCount {
  private count = 0;
  /** Per state instance (name and Map iteration): whether its last attempt failed. */
  private readonly failed = new Map<string, boolean>();
  private readonly kinds: ReadonlyMap<string, TaskKind>;

  /** `kinds`: each Task state's kind, by state name. */
  constructor(kinds: ReadonlyMap<string, TaskKind>) {
    this.kinds = kinds;
  }

  get events(): number {
    return this.count;
  }

  add(n: number): void {
    this.count += n;
  }

  /** A callback task's invocation returned: TaskSubmitted. */
  submitted(): void {
    this.count += 1;
  }

  /** Adds what one library event stands for; returns the running total. */
  record(event: LibraryEvent): number {
    const state = event.state;
    const key = state ? `${state.name}#${event.index ?? ''}` : '';
    switch (event.type) {
      case 'ExecutionStarted':
      case 'ExecutionSucceeded':
      case 'ExecutionFailed':
      case 'ExecutionAborted':
      case 'ExecutionTimeout':
      case 'MapIterationStarted':
      case 'MapIterationSucceeded':
      case 'MapIterationFailed':
        this.count += 1;
        break;
      case 'StateEntered':
        this.failed.set(key, false);
        // Entered, plus what a Task's first attempt or a Map's start adds at once.
        this.count += 1 + (state?.type === 'Task' ? ATTEMPT_OPENING : state?.type === 'Map' ? 1 : 0);
        break;
      case 'StateRetried':
        this.failed.set(key, false);
        // A retried Map starts again (MapStateStarted); a Task opens its next attempt.
        this.count += state?.type === 'Map' ? 1 : ATTEMPT_OPENING;
        break;
      case 'StateFailed':
        // LambdaFunctionFailed / TaskFailed / TaskTimedOut, MapStateFailed.
        this.failed.set(key, true);
        this.count += 1;
        break;
      case 'StateExited':
        if (state?.type === 'Fail') break;
        // After a success: its Succeeded event and the exit; after a caught failure: the exit.
        this.count += (state?.type === 'Task' || state?.type === 'Map') && !this.failed.get(key) ? 2 : 1;
        break;
      default:
        // StateCaught and branch events stand for nothing of their own.
        break;
    }
    return this.count;
  }

  /** The kind of a Task state, for the wrapper that counts TaskSubmitted. */
  kindOf(stateName: string): TaskKind | undefined {
    return this.kinds.get(stateName);
  }
}
