import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ENV } from '../../../lambdas/config/env.ts';
import type { handler as Handler } from '../../../lambdas/entry/gateway.ts';
import {
  functionUrlEvent,
  gatewayEnvironment,
  mcpHeaders,
  STATE_MACHINE,
  GATEWAY_TOKEN as TOKEN,
  TOKEN_SECRET,
} from './function-url-event.ts';

const secretsMock = mockClient(SecretsManagerClient);
const dynamoMock = mockClient(DynamoDBDocumentClient);
const sfnMock = mockClient(SFNClient);

let handler: typeof Handler;

// The entry reads its environment and the token secret at import, as at a Lambda cold start.
beforeAll(async () => {
  Object.assign(process.env, gatewayEnvironment({ [ENV.concurrency]: '3' }));
  secretsMock.on(GetSecretValueCommand, { SecretId: TOKEN_SECRET }).resolves({ SecretString: `${TOKEN}\n` });
  ({ handler } = await import('../../../lambdas/entry/gateway.ts'));
});

beforeEach(() => {
  dynamoMock.reset();
  sfnMock.reset();
});

const rpc = (id: number, method: string, params: Record<string, unknown> = {}) => ({
  jsonrpc: '2.0',
  id,
  method,
  params,
});
const initialize = rpc(1, 'initialize', {
  protocolVersion: '2025-06-18',
  capabilities: {},
  clientInfo: { name: 'test', version: '1' },
});
const json = (body: string) => JSON.parse(body) as { result?: Record<string, unknown>; error?: unknown };

describe('the gateway Lambda behind a Function URL', () => {
  it('read the token secret once, at cold start', () => {
    expect(secretsMock.commandCalls(GetSecretValueCommand)).toHaveLength(1);
  });

  it('answers initialize with the server info, as JSON', async () => {
    const response = await handler(functionUrlEvent({ headers: mcpHeaders(TOKEN), body: initialize }));
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toContain('application/json');
    expect(json(response.body).result?.serverInfo).toMatchObject({ name: 'sdbatch' });
  });

  it('answers a 2026-07-28 server/discover, with no initialize, declaring the tasks extension', async () => {
    const discover = rpc(7, 'server/discover', {
      _meta: {
        'io.modelcontextprotocol/protocolVersion': '2026-07-28',
        'io.modelcontextprotocol/clientInfo': { name: 'test', version: '1' },
        'io.modelcontextprotocol/clientCapabilities': {},
      },
    });
    const response = await handler(
      functionUrlEvent({
        headers: {
          ...mcpHeaders(TOKEN),
          'mcp-protocol-version': '2026-07-28',
          'mcp-method': 'server/discover',
        },
        body: discover,
      }),
    );
    expect(response.statusCode).toBe(200);
    const result = json(response.body).result as {
      supportedVersions?: string[];
      capabilities?: { extensions?: Record<string, unknown> };
    };
    expect(result.capabilities?.extensions?.['io.modelcontextprotocol/tasks']).toEqual({});
  });

  it('lists the tools', async () => {
    const response = await handler(
      functionUrlEvent({ headers: mcpHeaders(TOKEN), body: rpc(2, 'tools/list') }),
    );
    expect(response.statusCode).toBe(200);
    const tools = json(response.body).result?.tools as { name: string }[];
    expect(tools.map((t) => t.name)).toContain('sdreforge_batch_start');
  });

  it('decodes a base64-encoded body', async () => {
    const event = functionUrlEvent({ headers: mcpHeaders(TOKEN), body: rpc(3, 'tools/list'), base64: true });
    expect(event.body).not.toContain('tools/list');
    const response = await handler(event);
    expect(response.statusCode).toBe(200);
    expect(json(response.body).result?.tools).toBeInstanceOf(Array);
  });

  it('starts a job: a pending item in DynamoDB, then one execution named after the job id', async () => {
    dynamoMock.on(PutCommand).resolves({});
    // The caller's admission among its active jobs: its marker, then one conditional count that holds.
    dynamoMock.on(UpdateCommand).resolves({});
    sfnMock.on(StartExecutionCommand).resolves({ executionArn: 'arn', startDate: new Date() });
    const call = rpc(4, 'tools/call', {
      name: 'sdreforge_batch_start',
      arguments: { prompt: 'a lighthouse at dusk', batch_size: 2, n_iter: 5, seed: 1234 },
    });
    const response = await handler(functionUrlEvent({ headers: mcpHeaders(TOKEN), body: call }));
    expect(response.statusCode).toBe(200);
    const result = json(response.body).result as { isError?: boolean; structuredContent: { job_id: string } };
    expect(result.isError).toBeFalsy();
    const jobId = result.structuredContent.job_id;
    expect(jobId).toMatch(/^job_\d{8}_/);

    const [marker, item] = dynamoMock.commandCalls(PutCommand).map((c) => c.args[0].input);
    expect(marker).toMatchObject({ Item: { pk: 'OWNER#default', sk: `ADMIT#${jobId}` } });
    expect(item).toMatchObject({
      TableName: 'jobs',
      Item: { job_id: jobId, status: 'pending', total_images: 10 },
    });
    expect(dynamoMock.commandCalls(UpdateCommand)[0]?.args[0].input).toMatchObject({
      Key: { pk: 'OWNER#default', sk: 'ADMITTED' },
      UpdateExpression: 'ADD active :one',
      ConditionExpression: 'attribute_exists(active) AND active < :limit',
    });
    const started = sfnMock.commandCalls(StartExecutionCommand);
    expect(started).toHaveLength(1);
    expect(started[0]?.args[0].input).toMatchObject({ stateMachineArn: STATE_MACHINE, name: jobId });
    expect(JSON.parse(started[0]?.args[0].input.input ?? '')).toEqual({
      job_id: jobId,
      // 5 iterations, 3 calls at once: 2 generate tasks of two calls each, the Map's items 0 and 1.
      runners: 2,
      runner_ids: [0, 1],
    });
  });

  it('answers 401 with a Bearer challenge without a token or with a wrong one', async () => {
    // A wrong token is looked up by its digest among the named tokens, and not found.
    dynamoMock.on(GetCommand).resolves({});
    for (const token of [undefined, 'wrong-token-wrong-token-wrong']) {
      const response = await handler(functionUrlEvent({ headers: mcpHeaders(token), body: initialize }));
      expect(response.statusCode).toBe(401);
      expect(response.headers['www-authenticate']).toBe('Bearer');
    }
    const lookups = dynamoMock.commandCalls(GetCommand).map((c) => String(c.args[0].input.Key?.pk));
    expect(lookups).toHaveLength(1);
    expect(lookups[0]).toMatch(/^TOKEN#[0-9a-f]{64}$/);
    expect(lookups[0]).not.toContain('wrong-token');
  });

  it('answers GET /mcp with 405 and Allow: POST', async () => {
    const response = await handler(functionUrlEvent({ method: 'GET', headers: mcpHeaders(TOKEN) }));
    expect(response.statusCode).toBe(405);
    expect(response.headers.allow).toBe('POST');
  });
});
