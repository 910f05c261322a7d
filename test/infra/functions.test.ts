import { Match } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENV } from '../../lambdas/config/env.ts';
import { FUNCTION_STATES, SHARES_FUNCTION_OF, type TaskStateName } from '../../workflow/definition.ts';
import { FUNCTION_SIZING } from '../../workflow/function-sizing.ts';
import { type Synthesized, synthesize, TUNNEL_CONTEXT } from './synth.ts';
import { envOf, gatewayFunction, resources, roleIdOf, taskFunction } from './template-queries.ts';

let synth: Synthesized;
beforeAll(() => {
  synth = synthesize(TUNNEL_CONTEXT);
});
afterAll(() => synth?.dispose());

const TASKS: string[] = FUNCTION_STATES;

describe('functions', () => {
  const all = () => Object.values(resources(synth.template, 'AWS::Lambda::Function'));

  it('run Node 24 on arm64 (sharp included: its WebAssembly build) with tracing, JSON logs and source maps', () => {
    expect(all()).toHaveLength(6);
    for (const fn of all()) {
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        TracingConfig: { Mode: 'Active' },
        LoggingConfig: { LogFormat: 'JSON', LogGroup: { Ref: expect.any(String) } },
      });
      // A young generation of 5% of the function's memory (256 MB: 12 MB), an old one of half.
      const memory = fn.Properties.MemorySize as number;
      const semiSpace = Math.floor((memory * 5) / 100);
      expect(envOf(fn).NODE_OPTIONS).toBe(
        `--enable-source-maps --max-semi-space-size=${semiSpace} --max-old-space-size=${memory / 2}`,
      );
      const logGroupId = (fn.Properties.LoggingConfig as { LogGroup: { Ref: string } }).LogGroup.Ref;
      expect(synth.template.toJSON().Resources[logGroupId].Properties.RetentionInDays).toBe(30);
    }
  });

  it('each have a role of their own', () => {
    const roles = all().map(roleIdOf);
    expect(new Set(roles).size).toBe(6);
  });

  it('are sized for their work: generate has the Map task’s 900 s at 256 MB (it waits for the GPU), the rest 256 MB and 30 s', () => {
    expect(taskFunction(synth.template, 'Generate images')[1].Properties).toMatchObject({
      MemorySize: 256,
      Timeout: 900,
    });
    for (const state of ['Wait for a GPU slot', 'Record failed iterations', 'Finalize job']) {
      expect(taskFunction(synth.template, state)[1].Properties).toMatchObject({
        MemorySize: 256,
        Timeout: 30,
      });
    }
    expect(gatewayFunction(synth.template)[1].Properties).toMatchObject({ MemorySize: 1024, Timeout: 30 });
  });

  it('take memory and time-out from FUNCTION_SIZING, the time-outs the embedded orchestrator enforces', () => {
    for (const [state, sizing] of Object.entries(FUNCTION_SIZING)) {
      const owner = SHARES_FUNCTION_OF[state as keyof typeof SHARES_FUNCTION_OF] ?? state;
      expect(taskFunction(synth.template, owner as TaskStateName)[1].Properties, state).toMatchObject({
        MemorySize: sizing.memoryMb,
        Timeout: sizing.timeoutSeconds,
      });
    }
  });

  it('reserve no concurrency by default (a new account could not deploy it); the gateway gets its share when asked', () => {
    // Lambda keeps 100 of the account's concurrency unreserved, and a new account may have 10 in all.
    for (const fn of all()) expect(fn.Properties.ReservedConcurrentExecutions).toBeUndefined();
    const tight = synthesize({ ...TUNNEL_CONTEXT, gatewayReservedConcurrency: '3' });
    const spelledOut = synthesize({ ...TUNNEL_CONTEXT, gatewayReservedConcurrency: 'none' });
    try {
      expect(gatewayFunction(tight.template)[1].Properties.ReservedConcurrentExecutions).toBe(3);
      for (const state of TASKS) {
        expect(
          taskFunction(tight.template, state)[1].Properties.ReservedConcurrentExecutions,
          state,
        ).toBeUndefined();
      }
      expect(gatewayFunction(spelledOut.template)[1].Properties.ReservedConcurrentExecutions).toBeUndefined();
    } finally {
      tight.dispose();
      spelledOut.dispose();
    }
  });

  it("derive a job's concurrency from the hosts in sdWebUiUrl and their depth: cdk.json pins neither", () => {
    const pool = synthesize({
      sdWebUiUrl: 'https://gpu1.example.com,https://gpu2.example.com,https://gpu3.example.com',
    });
    try {
      expect(envOf(gatewayFunction(pool.template)[1])).toMatchObject({
        [ENV.concurrency]: '6',
        [ENV.gpuHosts]: '3',
      });
      expect(envOf(gatewayFunction(synth.template)[1])).toMatchObject({
        [ENV.concurrency]: '2',
        [ENV.gpuHosts]: '1',
      });
    } finally {
      pool.dispose();
    }
  });

  it('get their configuration under the names the loaders read', () => {
    for (const state of TASKS) {
      expect(Object.keys(envOf(taskFunction(synth.template, state)[1]))).toEqual(
        expect.arrayContaining([ENV.tableName, ENV.bucketName, ENV.sdWebUiUrl]),
      );
    }
    expect(envOf(taskFunction(synth.template, 'Generate images')[1])[ENV.sdWebUiUrl]).toBe(
      'https://gpu.example.com',
    );
    expect(Object.keys(envOf(gatewayFunction(synth.template)[1]))).toEqual(
      expect.arrayContaining([
        ENV.tableName,
        ENV.bucketName,
        ENV.stateMachineArn,
        ENV.tokenSecretArn,
        ENV.concurrency,
      ]),
    );
  });
});

describe('gateway', () => {
  it('is behind a Function URL with auth type NONE (the bearer token is checked in the app)', () => {
    const [gatewayId] = gatewayFunction(synth.template);
    synth.template.hasResourceProperties('AWS::Lambda::Url', {
      AuthType: 'NONE',
      TargetFunctionArn: { 'Fn::GetAtt': [gatewayId, 'Arn'] },
    });
    expect(Object.keys(resources(synth.template, 'AWS::Lambda::Url'))).toHaveLength(1);
  });

  it('has its token generated in Secrets Manager, never in the template', () => {
    synth.template.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: { PasswordLength: 48, ExcludePunctuation: true, IncludeSpace: false },
    });
    synth.template.hasResourceProperties('AWS::SecretsManager::Secret', { SecretString: Match.absent() });
  });
});

describe('outputs', () => {
  it('give the MCP URL, the token command, table, bucket and state machine', () => {
    const outputs = synth.template.toJSON().Outputs as Record<string, { Value: unknown }>;
    const [urlId] = Object.keys(resources(synth.template, 'AWS::Lambda::Url'));
    const [secretId] = Object.keys(resources(synth.template, 'AWS::SecretsManager::Secret'));
    const [tableId] = Object.keys(resources(synth.template, 'AWS::DynamoDB::Table'));
    const [machineId] = Object.keys(resources(synth.template, 'AWS::StepFunctions::StateMachine'));
    expect(outputs.McpUrl?.Value).toEqual({
      'Fn::Join': ['', [{ 'Fn::GetAtt': [urlId, 'FunctionUrl'] }, 'mcp']],
    });
    expect(outputs.TokenCommand?.Value).toEqual({
      'Fn::Join': [
        '',
        [
          'aws secretsmanager get-secret-value --secret-id ',
          { Ref: secretId },
          ' --query SecretString --output text --region ',
          { Ref: 'AWS::Region' },
        ],
      ],
    });
    expect(outputs.TableName?.Value).toEqual({ Ref: tableId });
    expect(outputs.BucketName?.Value).toEqual({ Ref: expect.stringMatching(/^ImagesBucket/) });
    expect(outputs.StateMachineArn?.Value).toEqual({ Ref: machineId });
    expect(outputs.GatewayFunctionName?.Value).toEqual({ Ref: gatewayFunction(synth.template)[0] });
  });
});
