import {
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  InvalidArn,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { CANCEL_ERROR, executionArn, SfnOrchestrator } from '../../../adapters/sfn-orchestrator.ts';

const STATE_MACHINE = 'arn:aws:states:eu-west-1:123456789012:stateMachine:SdbatchJobs-abc123';
const JOB = 'job_20261124_7k2m9q4x';
const INPUT = { job_id: JOB, runners: 2, runner_ids: [0, 1] };
const $metadata = {};

const sfnMock = mockClient(SFNClient);
const orchestrator = () => new SfnOrchestrator(new SFNClient({ region: 'eu-west-1' }), STATE_MACHINE);

beforeEach(() => sfnMock.reset());

describe('SfnOrchestrator.start', () => {
  it('starts one execution named after the job, with the workflow input as JSON', async () => {
    sfnMock
      .on(StartExecutionCommand)
      .resolves({ executionArn: executionArn(STATE_MACHINE, JOB), startDate: new Date() });
    await orchestrator().start(JOB, INPUT);
    const calls = sfnMock.commandCalls(StartExecutionCommand);
    expect(calls).toHaveLength(1);
    const sent = calls[0]?.args[0].input;
    expect(sent).toMatchObject({ stateMachineArn: STATE_MACHINE, name: JOB });
    expect(JSON.parse(sent?.input ?? '')).toEqual(INPUT);
  });

  it('treats ExecutionAlreadyExists as started: the name is the job id, so it is this job', async () => {
    sfnMock.on(StartExecutionCommand).rejects(new ExecutionAlreadyExists({ message: 'exists', $metadata }));
    await expect(orchestrator().start(JOB, INPUT)).resolves.toBeUndefined();
  });

  it('lets every other failure through, so the gateway marks the job failed', async () => {
    sfnMock.on(StartExecutionCommand).rejects(new InvalidArn({ message: 'bad arn', $metadata }));
    await expect(orchestrator().start(JOB, INPUT)).rejects.toThrow('bad arn');
  });
});

describe('SfnOrchestrator.stop', () => {
  it("stops the job's execution, derived from the state machine ARN and the job id", async () => {
    sfnMock.on(StopExecutionCommand).resolves({ stopDate: new Date() });
    await orchestrator().stop(JOB, 'cancelled by the caller');
    const calls = sfnMock.commandCalls(StopExecutionCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.args[0].input).toEqual({
      executionArn: `arn:aws:states:eu-west-1:123456789012:execution:SdbatchJobs-abc123:${JOB}`,
      error: CANCEL_ERROR,
      cause: 'cancelled by the caller',
    });
  });

  it('ignores an execution that does not exist', async () => {
    sfnMock.on(StopExecutionCommand).rejects(new ExecutionDoesNotExist({ message: 'none', $metadata }));
    await expect(orchestrator().stop(JOB, 'cancelled')).resolves.toBeUndefined();
  });

  it('lets other failures through', async () => {
    sfnMock.on(StopExecutionCommand).rejects(new Error('throttled'));
    await expect(orchestrator().stop(JOB, 'cancelled')).rejects.toThrow('throttled');
  });

  it('keeps the cause within the 32,768 characters Step Functions accepts', async () => {
    sfnMock.on(StopExecutionCommand).resolves({ stopDate: new Date() });
    await orchestrator().stop(JOB, 'x'.repeat(40_000));
    expect(sfnMock.commandCalls(StopExecutionCommand)[0]?.args[0].input.cause).toHaveLength(32_768);
  });
});

describe('executionArn', () => {
  it('works in other partitions', () => {
    expect(executionArn('arn:aws-cn:states:cn-north-1:123456789012:stateMachine:M', 'j')).toBe(
      'arn:aws-cn:states:cn-north-1:123456789012:execution:M:j',
    );
  });

  it('refuses what is not an unqualified state machine ARN', () => {
    expect(() => executionArn('arn:aws:states:eu-west-1:123456789012:stateMachine:M:live', 'j')).toThrow();
    expect(() => executionArn('arn:aws:lambda:eu-west-1:123456789012:function:f', 'j')).toThrow();
  });
});
