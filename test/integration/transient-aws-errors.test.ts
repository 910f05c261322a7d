import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { documentClient, s3Client } from '../../adapters/aws-clients.ts';
import { S3ImageStore } from '../../adapters/s3-image-store.ts';

/**
 * The real SDK clients the workers build, against a server answering as a throttled or failing
 * DynamoDB or S3 does: what still fails after the SDK's own retries reaches the task as
 * TransientAwsError (the name the state machine retries), anything else as the SDK's error.
 */

type Answer = 'throttled' | 'slow-down' | 'reset' | 'conditional' | 'ok';
let answers: Answer[] = [];
let requests = 0;
let server: Server;
let url: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      requests++;
      const answer = answers.shift() ?? 'ok';
      const json = { 'content-type': 'application/x-amz-json-1.0' };
      if (answer === 'reset') req.socket.destroy();
      else if (answer === 'throttled') {
        res.writeHead(400, json).end(
          JSON.stringify({
            __type: 'com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException',
            message: 'The level of configured provisioned throughput for the table was exceeded.',
          }),
        );
      } else if (answer === 'conditional') {
        res.writeHead(400, json).end(
          JSON.stringify({
            __type: 'com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException',
            message: 'The conditional request failed',
          }),
        );
      } else if (answer === 'slow-down') {
        res
          .writeHead(503, { 'content-type': 'application/xml' })
          .end('<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>');
      } else if (req.headers['x-amz-target']) res.writeHead(200, json).end('{}');
      else res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const clients = {
  region: 'us-east-1',
  dynamoDbEndpoint: undefined as string | undefined,
  s3Endpoint: undefined as string | undefined,
  credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  // Two tries keep the SDK's back-off (up to a second for a throttle) short.
  maxAttempts: 2,
};
const db = () => documentClient({ ...clients, dynamoDbEndpoint: url });
const get = () => db().send(new GetCommand({ TableName: 't', Key: { pk: 'job', sk: 'job' } }));
const put = () =>
  new S3ImageStore(s3Client({ ...clients, s3Endpoint: url }), 'b').put({
    key: 'jobs/x/000-0.png',
    body: new Uint8Array([1]),
    contentType: 'image/png',
    expiresAt: 0,
  });

async function outcome(call: () => Promise<unknown>, sequence: Answer[]) {
  answers = [...sequence];
  requests = 0;
  try {
    await call();
    return { ok: true, requests };
  } catch (error) {
    const { name, cause } = error as Error & { cause?: Error };
    return { ok: false, name, cause: cause?.name, requests };
  }
}

describe('transient AWS errors', () => {
  it('a throttle the SDK’s retry outlasts is not seen at all', async () => {
    expect(await outcome(get, ['throttled'])).toEqual({ ok: true, requests: 2 });
  });

  it('a DynamoDB throttle past the retries is TransientAwsError, with the SDK’s error as its cause', async () => {
    expect(await outcome(get, ['throttled', 'throttled'])).toEqual({
      ok: false,
      name: 'TransientAwsError',
      cause: 'ProvisionedThroughputExceededException',
      requests: 2,
    });
  });

  it('so are S3’s SlowDown and a connection reset', async () => {
    expect(await outcome(put, ['slow-down', 'slow-down'])).toMatchObject({
      ok: false,
      name: 'TransientAwsError',
      cause: 'SlowDown',
    });
    expect(await outcome(get, ['reset', 'reset'])).toMatchObject({ ok: false, name: 'TransientAwsError' });
  });

  it('a failure of the request itself keeps its own name and is not retried', async () => {
    expect(await outcome(get, ['conditional'])).toEqual({
      ok: false,
      name: 'ConditionalCheckFailedException',
      requests: 1,
    });
  });
});
