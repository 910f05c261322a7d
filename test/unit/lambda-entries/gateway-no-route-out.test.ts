import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { DynamoDBDocumentClient, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeAll, describe, expect, it } from 'vitest';
import { ENV } from '../../../lambdas/config/env.ts';
import type { handler as Handler } from '../../../lambdas/entry/gateway.ts';
import {
  functionUrlEvent,
  gatewayEnvironment,
  mcpHeaders,
  GATEWAY_TOKEN as TOKEN,
  TOKEN_SECRET,
} from './function-url-event.ts';

const secretsMock = mockClient(SecretsManagerClient);
const dynamoMock = mockClient(DynamoDBDocumentClient);
const sfnMock = mockClient(SFNClient);

let handler: typeof Handler;

// A VPC deployment whose subnets have no route to the internet, as CDK configures its gateway.
beforeAll(async () => {
  Object.assign(process.env, gatewayEnvironment({ [ENV.workersReachInternet]: 'false' }));
  secretsMock.on(GetSecretValueCommand, { SecretId: TOKEN_SECRET }).resolves({ SecretString: TOKEN });
  ({ handler } = await import('../../../lambdas/entry/gateway.ts'));
});

const start = (controlnet: Record<string, string>[]) =>
  handler(
    functionUrlEvent({
      headers: mcpHeaders(TOKEN),
      body: {
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'sdreforge_batch_start', arguments: { prompt: 'a pose', controlnet } },
      },
    }),
  );

describe('a gateway whose workers have no route out (VPC mode without NAT)', () => {
  it('refuses a ControlNet image_url at the door, naming the field and why, and writes nothing', async () => {
    const response = await start([
      { model: 'control_v11p_sd15_openpose', image_url: 'https://example.com/pose.png' },
    ]);
    const { result } = JSON.parse(response.body) as {
      result: { isError?: boolean; content: { text: string }[] };
    };
    expect(result.isError).toBe(true);
    expect(result.content[0]?.text).toMatch(
      /controlnet\.0\.image_url: the GPU workers run in a VPC with no route to the internet .*vpcInternetAccess=true.*image \(a data URL\) or as image_key/,
    );
    expect(dynamoMock.commandCalls(PutCommand)).toHaveLength(0);
    expect(dynamoMock.commandCalls(UpdateCommand)).toHaveLength(0);
    expect(sfnMock.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });
});
