import { TaskGoneError } from '../../core/errors.ts';
import type { TaskCallbacks } from '../../core/ports.ts';
import { TaskTokenError, type TaskTokens } from './task-tokens.ts';

function answer(call: () => void): Promise<void> {
  try {
    call();
    return Promise.resolve();
  } catch (error) {
    if (error instanceof TaskTokenError && error.name !== 'InvalidOutput') {
      return Promise.reject(new TaskGoneError(error.message, { cause: error }));
    }
    return Promise.reject(error);
  }
}

/** The embedded orchestrator's SendTaskSuccess, as the workers' port. */
export class LocalTaskCallbacks implements TaskCallbacks {
  private readonly tokens: TaskTokens;

  constructor(tokens: TaskTokens) {
    this.tokens = tokens;
  }

  succeed(token: string, output: Record<string, unknown>): Promise<void> {
    return answer(() => this.tokens.sendTaskSuccess(token, JSON.stringify(output)));
  }
}
