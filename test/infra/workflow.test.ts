import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFINITION_PATH,
  type FunctionArnVariable,
  SHARES_FUNCTION_OF,
  substituteDefinition,
  TASK_FUNCTIONS,
  type TaskStateName,
} from '../../workflow/definition.ts';
import { type Synthesized, synthesize, TUNNEL_CONTEXT } from './synth.ts';
import { resources, taskFunction } from './template-queries.ts';

let synth: Synthesized;
beforeAll(() => {
  synth = synthesize(TUNNEL_CONTEXT);
});
afterAll(() => synth?.dispose());

const machine = () => {
  const [entry] = Object.entries(resources(synth.template, 'AWS::StepFunctions::StateMachine'));
  if (!entry) throw new Error('no state machine');
  return entry[1].Properties as {
    DefinitionString: unknown;
    DefinitionSubstitutions: Record<string, { 'Fn::GetAtt': [string, string] }>;
  } & Record<string, unknown>;
};

type State = {
  Type: string;
  Resource?: string;
  TimeoutSeconds?: number;
  ItemProcessor?: { States: Record<string, State> };
};
/** Every state, Map item processors included. */
function allStates(states: Record<string, State>): [string, State][] {
  return Object.entries(states).flatMap(([name, s]) => [
    [name, s] as [string, State],
    ...(s.ItemProcessor ? allStates(s.ItemProcessor.States) : []),
  ]);
}

describe('state machine', () => {
  it('is Standard, logs ALL with execution data to its log group, and is traced', () => {
    expect(machine()).toMatchObject({
      StateMachineType: 'STANDARD',
      LoggingConfiguration: {
        Level: 'ALL',
        IncludeExecutionData: true,
        Destinations: [
          {
            CloudWatchLogsLogGroup: {
              LogGroupArn: { 'Fn::GetAtt': [expect.stringMatching(/^WorkflowLogs/), 'Arn'] },
            },
          },
        ],
      },
      TracingConfiguration: { Enabled: true },
    });
  });

  it('binds each Task state to its own function, the two waits to one', () => {
    const substitutions = machine().DefinitionSubstitutions;
    expect(Object.keys(substitutions).sort()).toEqual([...new Set(Object.values(TASK_FUNCTIONS))].sort());
    for (const [state, variable] of Object.entries(TASK_FUNCTIONS)) {
      const owner = SHARES_FUNCTION_OF[state as keyof typeof SHARES_FUNCTION_OF] ?? state;
      const [functionId] = taskFunction(synth.template, owner);
      expect(substitutions[variable]).toEqual({ 'Fn::GetAtt': [functionId, 'Arn'] });
    }
  });

  it('deploys the JSON the embedded orchestrator executes, function ARNs aside', () => {
    const { DefinitionString, DefinitionSubstitutions } = machine();
    expect(typeof DefinitionString).toBe('string');
    // Give every function an ARN, then do what Step Functions' definitionSubstitutions does.
    const arnOf = (variable: string) =>
      `arn:aws:lambda:eu-west-1:123456789012:function:${DefinitionSubstitutions[variable]?.['Fn::GetAtt'][0]}`;
    const deployed = JSON.parse(
      (DefinitionString as string).replace(/\$\{(\w+)\}/g, (_, variable: string) => arnOf(variable)),
    );
    const arns = Object.fromEntries(Object.values(TASK_FUNCTIONS).map((v) => [v, arnOf(v)])) as Record<
      FunctionArnVariable,
      string
    >;
    // substituteDefinition is what LocalOrchestrator runs (with its own placeholder ARNs).
    expect(deployed).toEqual(JSON.parse(substituteDefinition(arns)));
    expect(DefinitionString).toBe(readFileSync(DEFINITION_PATH, 'utf8'));
  });

  it('names its states in words, so the console reads as the job’s story', () => {
    const definition = JSON.parse(readFileSync(DEFINITION_PATH, 'utf8')) as { States: Record<string, State> };
    // Words, lower case after the first but for acronyms ("Wait for a GPU slot").
    for (const [name] of allStates(definition.States))
      expect(name).toMatch(/^[A-Z][a-z]+( ([a-z]+|[A-Z]{2,}))+$/);
  });

  it('gives every task function less time than its state allows, so a stuck call ends as the function’s error', () => {
    const definition = JSON.parse(readFileSync(DEFINITION_PATH, 'utf8')) as { States: Record<string, State> };
    const tasks = allStates(definition.States).filter(([, s]) => s.Type === 'Task');
    expect(tasks.map(([name]) => name).sort()).toEqual(Object.keys(TASK_FUNCTIONS).sort());
    for (const [name, state] of tasks) {
      const owner = SHARES_FUNCTION_OF[name as keyof typeof SHARES_FUNCTION_OF] ?? name;
      const fn = taskFunction(synth.template, owner as TaskStateName)[1];
      expect(Number(fn.Properties.Timeout), name).toBeLessThan(state.TimeoutSeconds ?? 0);
    }
  });

  it('waits for a GPU slot in a callback task, not in a Retry that polls', () => {
    const definition = JSON.parse(readFileSync(DEFINITION_PATH, 'utf8')) as { States: Record<string, State> };
    const states = Object.fromEntries(allStates(definition.States)) as Record<
      string,
      Record<string, unknown>
    >;
    const generate = states['Generate images'] as { Retry: { ErrorEquals: string[]; MaxAttempts: number }[] };
    // No retry of a refusal; no retry anywhere with more than a handful of attempts.
    for (const state of Object.values(states)) {
      for (const retry of (state.Retry as { MaxAttempts?: number }[] | undefined) ?? []) {
        expect(retry.MaxAttempts ?? 3).toBeLessThanOrEqual(6);
      }
    }
    expect(generate.Retry.flatMap((r) => r.ErrorEquals)).not.toContain('NoSlotAvailableError');
    expect(states['Generate images']?.Catch).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ ErrorEquals: ['NoSlotAvailableError'], Next: 'Wait for a GPU slot' }),
      ]),
    );
    expect(states['Wait for a GPU slot']).toMatchObject({
      Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
      Parameters: {
        FunctionName: `$\{${TASK_FUNCTIONS['Wait for a GPU slot']}}`,
        Payload: { 'task_token.$': '$$.Task.Token' },
      },
      HeartbeatSeconds: 600,
      Next: 'Generate images',
    });
  });

  it('admits a job to the GPU pool as a whole before its runners start, with as many as it was given', () => {
    const definition = JSON.parse(readFileSync(DEFINITION_PATH, 'utf8')) as {
      StartAt: string;
      States: Record<string, Record<string, unknown>>;
    };
    expect(definition.StartAt).toBe('Wait for the GPU pool');
    expect(definition.States['Wait for the GPU pool']).toMatchObject({
      Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
      Parameters: {
        FunctionName: `$\{${TASK_FUNCTIONS['Wait for the GPU pool']}}`,
        Payload: { 'job_id.$': '$.job_id', 'runners.$': '$.runners', 'task_token.$': '$$.Task.Token' },
      },
      ResultPath: '$.admitted',
      Next: 'Generate all iterations',
    });
    expect(definition.States['Generate all iterations']).toMatchObject({
      MaxConcurrencyPath: '$.admitted.runners',
      ItemSelector: { 'concurrency.$': '$.admitted.runners' },
    });
  });
});
