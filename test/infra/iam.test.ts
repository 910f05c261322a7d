import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FUNCTION_STATES } from '../../workflow/definition.ts';
import { type Synthesized, synthesize, TUNNEL_CONTEXT } from './synth.ts';
import {
  actionsOf,
  allActions,
  gatewayFunction,
  resources,
  single,
  statementsOfFunction,
  taskFunction,
} from './template-queries.ts';

let synth: Synthesized;
beforeAll(() => {
  synth = synthesize(TUNNEL_CONTEXT);
});
afterAll(() => synth?.dispose());

const TASKS: string[] = FUNCTION_STATES;
const DATA_SERVICES = /^(dynamodb|s3|states|lambda|secretsmanager|kms):/;

describe('IAM', () => {
  const policies = () => Object.values(resources(synth.template, 'AWS::IAM::Policy'));
  const statements = () =>
    policies().flatMap(
      (p) =>
        (p.Properties.PolicyDocument as { Statement: { Action: string | string[]; Resource: unknown }[] })
          .Statement,
    );

  it('grants no wildcard action anywhere', () => {
    for (const action of statements().flatMap((s) => actionsOf(s as never))) {
      expect(action, action).not.toMatch(/(^\*$|:\*$)/);
    }
  });

  it('uses Resource "*" only for actions that have no resource types (X-Ray, log delivery, task callbacks), never for data', () => {
    for (const s of statements().filter((s) => s.Resource === '*')) {
      for (const action of actionsOf(s as never)) {
        expect(action).toMatch(/^(xray|logs):|^states:SendTaskSuccess$/);
      }
    }
    for (const s of statements()) {
      if (actionsOf(s as never).some((a) => DATA_SERVICES.test(a) && !/^states:SendTask/.test(a)))
        expect(JSON.stringify(s.Resource)).not.toBe('"*"');
    }
  });

  it('lets no worker start executions, invoke functions, or read the token', () => {
    for (const state of TASKS) {
      const actions = allActions(
        statementsOfFunction(synth.template, taskFunction(synth.template, state)[1]),
      );
      expect(
        actions.filter((a) => /^(states|lambda|secretsmanager):/.test(a) && !/^states:SendTask/.test(a)),
        state,
      ).toEqual([]);
    }
  });

  it('lets the generate and wait tasks answer callback tasks, and no one else any', () => {
    for (const state of TASKS) {
      const stmts = statementsOfFunction(synth.template, taskFunction(synth.template, state)[1]).filter((s) =>
        actionsOf(s).some((a) => a.startsWith('states:')),
      );
      if (state === 'Generate images' || state === 'Wait for a GPU slot') {
        expect(
          stmts
            .flatMap(actionsOf)
            .filter((a) => a.startsWith('states:'))
            .sort(),
          state,
        ).toEqual(['states:SendTaskSuccess']);
        // SendTask* have no resource types: only "*" grants them (a state machine ARN never would).
        for (const s of stmts) expect(s.Resource, state).toBe('*');
      } else {
        expect(stmts, state).toEqual([]);
      }
    }
  });

  it('gives the table to every worker, the bucket to two: generate (write images, read inputs) and the sheet (read images, write sheet)', () => {
    for (const state of TASKS) {
      const actions = allActions(
        statementsOfFunction(synth.template, taskFunction(synth.template, state)[1]),
      );
      expect(actions, state).toEqual(expect.arrayContaining(['dynamodb:GetItem', 'dynamodb:UpdateItem']));
      expect(actions.filter((a) => a.startsWith('s3:')).sort(), state).toEqual(
        state === 'Generate images'
          ? // s3:ListBucket: a missing key is then 404 to it, not 403 (S3's rule)
            ['s3:GetObject', 's3:ListBucket', 's3:PutObject']
          : state === 'Render contact sheet'
            ? ['s3:GetObject', 's3:PutObject']
            : [],
      );
    }
  });

  it('lets the gateway start, stop and describe this state machine’s executions only, and invoke nothing', () => {
    const stmts = statementsOfFunction(synth.template, gatewayFunction(synth.template)[1]);
    const [machineId] = Object.keys(resources(synth.template, 'AWS::StepFunctions::StateMachine'));
    expect(allActions(stmts).filter((a) => a.startsWith('lambda:'))).toEqual([]);
    expect(stmts).toContainEqual(
      expect.objectContaining({ Action: 'states:StartExecution', Resource: { Ref: machineId } }),
    );
    const stop = stmts.find((s) => actionsOf(s).includes('states:StopExecution'));
    expect(actionsOf(stop ?? ({ Action: [] } as never)).sort()).toEqual([
      'states:DescribeExecution',
      'states:StopExecution',
    ]);
    expect(JSON.stringify(stop?.Resource)).toContain(
      `":execution:",{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"${machineId}"}]}]},":*"`,
    );
    expect(
      allActions(stmts)
        .filter((a) => a.startsWith('states:'))
        .sort(),
    ).toEqual(['states:DescribeExecution', 'states:StartExecution', 'states:StopExecution']);
  });

  it('lets the gateway read its token, use the table and index, read images and store inputs', () => {
    const stmts = statementsOfFunction(synth.template, gatewayFunction(synth.template)[1]);
    const [secretId] = Object.keys(resources(synth.template, 'AWS::SecretsManager::Secret'));
    expect(stmts).toContainEqual(
      expect.objectContaining({
        Action: expect.arrayContaining(['secretsmanager:GetSecretValue']),
        Resource: { Ref: secretId },
      }),
    );
    const s3 = stmts.filter((s) => actionsOf(s).some((a) => a.startsWith('s3:')));
    // CDK merges statements of one action, so read every resource of every statement.
    const pairs = s3.flatMap((s) =>
      [s.Resource]
        .flat()
        .flatMap((r) => actionsOf(s).map((a) => [a, JSON.stringify(r).match(/"\/(\w+)\/\*"/)?.[1]])),
    );
    expect(pairs.map((p) => p.join(' ').trim()).sort()).toEqual([
      's3:GetObject inputs',
      's3:GetObject jobs',
      's3:GetObject sheets',
      's3:ListBucket',
      's3:PutObject inputs',
      's3:PutObject sheets',
    ]);
    const dynamo = stmts.find((s) => actionsOf(s).includes('dynamodb:Query'));
    expect(JSON.stringify(dynamo?.Resource)).toContain('/index/by-owner');
  });

  it('lets the state machine invoke exactly the five task functions', () => {
    const [, machine] = single(synth.template, 'AWS::StepFunctions::StateMachine');
    const roleId = (machine.Properties.RoleArn as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0];
    const invoke = policies()
      .filter((p) => (p.Properties.Roles as { Ref: string }[])[0]?.Ref === roleId)
      .flatMap(
        (p) =>
          (p.Properties.PolicyDocument as { Statement: { Action: string; Resource: unknown }[] }).Statement,
      )
      .filter((s) => s.Action === 'lambda:InvokeFunction');
    const expected = TASKS.map((state) => ({
      'Fn::GetAtt': [taskFunction(synth.template, state)[0], 'Arn'],
    }));
    expect(invoke.flatMap((s) => s.Resource as unknown[])).toEqual(expect.arrayContaining(expected));
    expect(invoke.flatMap((s) => s.Resource as unknown[])).toHaveLength(5);
  });
});

describe('table grants', () => {
  const asAction: Record<string, string> = {
    Get: 'GetItem',
    BatchGet: 'BatchGetItem',
    Put: 'PutItem',
    Update: 'UpdateItem',
    Delete: 'DeleteItem',
  };
  /** The job store's adapter files, one per port (DynamoDbJobStore only composes them). */
  const jobStore = ['dynamodb-job-records.ts', 'dynamodb-iteration-ledger.ts', 'dynamodb-owner-index.ts'];
  /** The DynamoDB actions an adapter's source sends, read from its `new XCommand(` calls. */
  const sentBy = (...adapters: string[]) =>
    new Set(
      adapters.flatMap((adapter) => {
        const source = readFileSync(new URL(`../../adapters/${adapter}`, import.meta.url), 'utf8');
        return [...source.matchAll(/new (\w+)Command\(/g)].map(
          (m) => `dynamodb:${asAction[m[1] ?? ''] ?? m[1]}`,
        );
      }),
    );
  const granted = (fn: Parameters<typeof statementsOfFunction>[1]) =>
    new Set(allActions(statementsOfFunction(synth.template, fn)).filter((a) => a.startsWith('dynamodb:')));

  const deletesOf = (fn: Parameters<typeof statementsOfFunction>[1]) =>
    statementsOfFunction(synth.template, fn)
      .filter((st) => [st.Action].flat().includes('dynamodb:DeleteItem'))
      .map((st) => st.Condition);

  it('cover exactly the commands the gateway sends, deletes only token digests', () => {
    const [, gateway] = gatewayFunction(synth.template);
    expect(granted(gateway)).toEqual(
      sentBy(...jobStore, 'dynamodb-token-store.ts', 'dynamodb-host-pool.ts', 'pool-items.ts'),
    );
    expect(deletesOf(gateway)).toEqual([
      { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['TOKEN#*'] } },
    ]);
  });

  it('cover every command the generate and wait tasks send, deletes only in the pool partition', () => {
    const pool = ['dynamodb-host-pool.ts', 'dynamodb-pool-queue.ts', 'pool-items.ts'];
    for (const state of ['Generate images', 'Wait for a GPU slot']) {
      const [, fn] = taskFunction(synth.template, state);
      expect(granted(fn), state).toEqual(sentBy(...jobStore, ...pool));
      expect(deletesOf(fn), state).toEqual([
        { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['POOL#*'] } },
      ]);
    }
  });
});
