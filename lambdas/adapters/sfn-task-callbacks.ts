import { SendTaskHeartbeatCommand, SendTaskSuccessCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { TaskGoneError } from '../../core/errors.ts';
import type { TaskCallbacks } from '../../core/ports.ts';

/** What Step Functions answers for a token whose task no longer waits (or never did). */
const GONE = new Set(['TaskTimedOut', 'TaskDoesNotExist', 'InvalidToken']);

async function send(call: Promise<unknown>): Promise<void> {
  try {
    await call;
  } catch (error) {
    if (error instanceof Error && GONE.has(error.name))
      throw new TaskGoneError(error.message, { cause: error });
    throw error;
  }
}

/** Step Functions' SendTaskSuccess and SendTaskHeartbeat for the "Wait for a GPU slot" tasks. */
export class SfnTaskCallbacks implements TaskCallbacks {
  private readonly sfn: SFNClient;

  constructor(sfn: SFNClient) {
    this.sfn = sfn;
  }

  succeed(token: string, output: Record<string, unknown>): Promise<void> {
    return send(
      this.sfn.send(new SendTaskSuccessCommand({ taskToken: token, output: JSON.stringify(output) })),
    );
  }

  heartbeat(token: string): Promise<void> {
    return send(this.sfn.send(new SendTaskHeartbeatCommand({ taskToken: token })));
  }
}
