import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { JOB_SK, jobPk } from '../../../adapters/jobs-table.ts';
import { JobRecord } from '../../../core/job.ts';
import { ENV } from '../../../lambdas/config/env.ts';
import { type Simulator, startSimulator } from '../../../local/simulator/server.ts';

const JOB_ID = 'job_20261124_lambdaentry1';
const AUTH_SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:sd-auth-AbC123';
const job = JobRecord.parse({
  job_id: JOB_ID,
  owner: 'default',
  status: 'running',
  created_at: '2026-11-24T10:00:00.000Z',
  params: {
    prompt: 'a lighthouse at dusk',
    negative_prompt: '',
    width: 64,
    height: 64,
    steps: 2,
    cfg_scale: 7,
    sampler_name: 'Euler a',
    seed: 1000,
    batch_size: 2,
    n_iter: 3,
  },
  total_images: 6,
  completed_images: 4,
  failed_images: 2,
  estimated_seconds: 10,
  expires_at: 1_800_000_000,
});

const secretsMock = mockClient(SecretsManagerClient);
const dynamoMock = mockClient(DynamoDBDocumentClient);
const s3Mock = mockClient(S3Client);
type Entry = { handler: (event: unknown, context?: Context) => Promise<unknown> };
let entries: Record<'generate' | 'fail' | 'finalize', Entry>;
let simulator: Simulator;
const fetchSpy = vi.spyOn(globalThis, 'fetch');
const logs = vi.spyOn(console, 'info').mockImplementation(() => {});
vi.spyOn(console, 'warn').mockImplementation(() => {});
vi.spyOn(console, 'error').mockImplementation(() => {});

// Each entry builds its deps at import, as at a Lambda cold start.
beforeAll(async () => {
  simulator = await startSimulator({ stepMs: 1 });
  Object.assign(process.env, {
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    // Powertools writes through the global console in dev mode, so the test can read the lines.
    POWERTOOLS_DEV: 'true',
    [ENV.tableName]: 'jobs',
    [ENV.bucketName]: 'images',
    [ENV.sdWebUiUrl]: simulator.url,
    [ENV.sdWebUiAuthSecretArn]: AUTH_SECRET,
  });
  secretsMock.on(GetSecretValueCommand, { SecretId: AUTH_SECRET }).resolves({
    SecretString: JSON.stringify({
      username: 'sd',
      password: 'pw',
      headers: { 'cf-access-client-id': 'cid' },
    }),
  });
  entries = {
    generate: await import('../../../lambdas/entry/generate-images.ts'),
    fail: await import('../../../lambdas/entry/record-failed-iteration.ts'),
    finalize: await import('../../../lambdas/entry/finalize-job.ts'),
  } as typeof entries;
});
afterAll(() => simulator?.close());

beforeEach(() => {
  dynamoMock.reset();
  s3Mock.reset();
  fetchSpy.mockClear();
  logs.mockClear();
  // The job item by key; no iteration has been recorded yet.
  dynamoMock
    .on(GetCommand)
    .callsFake((input: { Key: { sk: string } }) =>
      input.Key.sk === JOB_SK ? { Item: { pk: jobPk(JOB_ID), sk: JOB_SK, ...job } } : {},
    );
  dynamoMock.on(UpdateCommand).resolves({});
  // The GPU pool's partition: no slot leased, no host resting.
  dynamoMock.on(QueryCommand).resolves({ Items: [] });
  dynamoMock.on(PutCommand).resolves({});
  dynamoMock.on(DeleteCommand).resolves({});
  s3Mock.on(PutObjectCommand).resolves({});
});

const loggedLines = () =>
  logs.mock.calls.map(([line]) => JSON.parse(String(line)) as Record<string, unknown>);

describe('the worker Lambdas, with the events Step Functions sends', () => {
  it('read the GPU host credentials once, at cold start', () => {
    expect(secretsMock.commandCalls(GetSecretValueCommand)).toHaveLength(1);
  });

  it('Generate images: the first runner of a pending job moves it from pending to running', async () => {
    dynamoMock.on(GetCommand).callsFake((input: { Key: { sk: string } }) =>
      input.Key.sk === JOB_SK
        ? {
            Item: { pk: jobPk(JOB_ID), sk: JOB_SK, ...job, status: 'pending', counted: new Set([0, 1, 2]) },
          }
        : {},
    );
    await entries.generate.handler({ job_id: JOB_ID, runner: 0, runners: 1 });
    const update = dynamoMock.commandCalls(UpdateCommand)[0]?.args[0].input;
    expect(update).toMatchObject({ TableName: 'jobs', Key: { pk: jobPk(JOB_ID), sk: JOB_SK } });
    expect(update?.ExpressionAttributeValues).toMatchObject({ ':to': 'running', ':from0': 'pending' });
  });

  it('Generate images: {job_id, runner, runners} calls the host with its credentials and stores the PNGs', async () => {
    // Runner 1 of 2 of a 3-iteration job whose iterations 0 and 2 are done: it makes iteration 1 alone.
    dynamoMock
      .on(GetCommand)
      .callsFake((input: { Key: { sk: string } }) =>
        input.Key.sk === JOB_SK
          ? { Item: { pk: jobPk(JOB_ID), sk: JOB_SK, ...job, counted: new Set([0, 2]) } }
          : {},
      );
    const context = { getRemainingTimeInMillis: () => 900_000, awsRequestId: 'r-1' } as unknown as Context;
    const result = await entries.generate.handler({ job_id: JOB_ID, runner: 1, runners: 2 }, context);
    expect(result).toEqual({ runner: 1, images: 2, iterations: 1, failed: 0 });

    const txt2img = fetchSpy.mock.calls.find(([url]) => String(url).endsWith('/sdapi/v1/txt2img'));
    const headers = txt2img?.[1]?.headers as Record<string, string>;
    expect(headers.authorization).toBe(`Basic ${Buffer.from('sd:pw').toString('base64')}`);
    expect(headers['cf-access-client-id']).toBe('cid');
    expect(JSON.parse(String(txt2img?.[1]?.body))).toMatchObject({ seed: 1002, batch_size: 2, n_iter: 1 });

    const keys = s3Mock.commandCalls(PutObjectCommand).map((c) => c.args[0].input.Key);
    expect(keys.sort()).toEqual([`jobs/${JOB_ID}/001-0.png`, `jobs/${JOB_ID}/001-1.png`]);
    const puts = dynamoMock.commandCalls(PutCommand).map((c) => c.args[0].input.Item);
    const item = puts.find((put) => put?.job_id === JOB_ID);
    expect(item).toMatchObject({ job_id: JOB_ID, iteration: 1, status: 'succeeded', image_count: 2 });
    // The host's lists of names, left for the gateway's start checks.
    expect(puts.find((put) => put?.pk === 'HOST_NAMES')?.names.checkpoints).toHaveLength(3);
    expect(loggedLines()).toContainEqual(
      expect.objectContaining({
        state: 'Generate images',
        job_id: JOB_ID,
        runner: 1,
        message: 'task done',
      }),
    );
    expect(JSON.stringify(logs.mock.calls)).not.toContain(Buffer.from('sd:pw').toString('base64'));
  });

  it("Record failed iterations: {job_id, runner, runners, error} records the runner's iterations with the message from Lambda's JSON Cause", async () => {
    const cause = JSON.stringify({
      errorType: 'SdWebUiUnavailableError',
      errorMessage: 'POST /sdapi/v1/txt2img answered 503: busy',
      trace: [
        'SdWebUiUnavailableError: POST /sdapi/v1/txt2img answered 503: busy',
        '    at call (index.mjs:1:1)',
      ],
    });
    const error = { Error: 'SdWebUiUnavailableError', Cause: cause };
    const event = { job_id: JOB_ID, runner: 0, runners: 2, error };
    await expect(entries.fail.handler(event)).resolves.toEqual({ runner: 0, failed: 2 });
    const items = dynamoMock.commandCalls(PutCommand).map((c) => c.args[0].input.Item);
    expect(items.map((i) => i?.iteration)).toEqual([0, 2]);
    expect(items[0]).toMatchObject({
      status: 'failed',
      image_count: 2,
      error: { type: 'SdWebUiUnavailableError', message: 'POST /sdapi/v1/txt2img answered 503: busy' },
    });
  });

  it('Finalize job: {job_id} ends the job by its counters (4 of 6 images: partial)', async () => {
    await expect(entries.finalize.handler({ job_id: JOB_ID })).resolves.toEqual({
      job_id: JOB_ID,
      status: 'partial',
    });
    const update = dynamoMock.commandCalls(UpdateCommand)[0]?.args[0].input;
    expect(update?.ExpressionAttributeValues).toMatchObject({ ':to': 'partial' });
  });

  it('rethrows failures untouched, so the Retry and Catch match on their name', async () => {
    dynamoMock.on(GetCommand).resolves({});
    await expect(entries.finalize.handler({ job_id: 'job_20261124_unknown' })).rejects.toMatchObject({
      name: 'JobNotFoundError',
    });
    await expect(entries.generate.handler({})).rejects.toMatchObject({ name: 'ZodError' });
  });
});
