import { type SFNClient, StartExecutionCommand, StopExecutionCommand } from '@aws-sdk/client-sfn';
import type { Orchestrator, WorkflowInput } from '../core/ports.ts';

/** The error a cancelled job's execution stops with (Step Functions allows 256 characters). */
export const CANCEL_ERROR = 'JobCancelled';
const MAX_CAUSE_CHARS = 32_768;

/**
 * `arn:<partition>:states:<region>:<account>:stateMachine:<name>` → the ARN of its execution
 * `<executionName>`, so stopping a job needs nothing stored but its id.
 */
export function executionArn(stateMachineArn: string, executionName: string): string {
  const parts = stateMachineArn.split(':');
  if (parts.length !== 7 || parts[0] !== 'arn' || parts[5] !== 'stateMachine') {
    throw new Error(`Not an unqualified state machine ARN: ${stateMachineArn}`);
  }
  return [...parts.slice(0, 5), 'execution', parts[6], executionName].join(':');
}

const isNamed = (error: unknown, name: string): boolean => error instanceof Error && error.name === name;

/** One job = one Standard execution named after the job id. */
export class SfnOrchestrator implements Orchestrator {
  private readonly sfn: SFNClient;
  private readonly stateMachineArn: string;

  constructor(sfn: SFNClient, stateMachineArn: string) {
    this.sfn = sfn;
    this.stateMachineArn = stateMachineArn;
  }

  async start(jobId: string, input: WorkflowInput): Promise<void> {
    try {
      await this.sfn.send(
        new StartExecutionCommand({
          stateMachineArn: this.stateMachineArn,
          name: jobId,
          input: JSON.stringify(input),
        }),
      );
    } catch (error) {
      // The name is the job id: an execution of that name is this job's, already started
      // (a retried call after a lost response). Starting it twice must not fail the job.
      if (isNamed(error, 'ExecutionAlreadyExists')) return;
      throw error;
    }
  }

  async stop(jobId: string, cause: string): Promise<void> {
    try {
      await this.sfn.send(
        new StopExecutionCommand({
          executionArn: executionArn(this.stateMachineArn, jobId),
          error: CANCEL_ERROR,
          cause: cause.slice(0, MAX_CAUSE_CHARS),
        }),
      );
    } catch (error) {
      // Never started (start failed) or long gone: there is nothing left to stop.
      if (isNamed(error, 'ExecutionDoesNotExist')) return;
      throw error;
    }
  }
}
