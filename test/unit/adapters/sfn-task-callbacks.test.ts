import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SfnTaskCallbacks } from '../../../adapters/sfn-task-callbacks.ts';
import { TaskGoneError } from '../../../core/errors.ts';

/** A stand-in for Step Functions' endpoint: records each request, answers as told. */
const received: Array<{ headers: IncomingHttpHeaders; body: unknown }> = [];
let answer: { status: number; body: unknown; headers?: Record<string, string> } = { status: 200, body: {} };
const server = createServer((req, res) => {
  let raw = '';
  req.on('data', (chunk) => {
    raw += chunk;
  });
  req.on('end', () => {
    received.push({ headers: req.headers, body: JSON.parse(raw) });
    res.writeHead(answer.status, { 'content-type': 'application/x-amz-json-1.0', ...answer.headers });
    res.end(JSON.stringify(answer.body));
  });
});
let callbacks: SfnTaskCallbacks;
beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  callbacks = new SfnTaskCallbacks({
    region: 'eu-west-1',
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret', sessionToken: 'session' },
  });
});
afterAll(() => server.close());

describe('SfnTaskCallbacks', () => {
  it('sends SendTaskSuccess as a signed AWS JSON 1.0 request', async () => {
    received.length = 0;
    answer = { status: 200, body: {} };
    await callbacks.succeed('token-1', { woken_at: '2026-11-27T00:00:00.000Z' });
    expect(received.map((r) => [r.headers['x-amz-target'], r.body])).toEqual([
      [
        'AWSStepFunctions.SendTaskSuccess',
        { taskToken: 'token-1', output: '{"woken_at":"2026-11-27T00:00:00.000Z"}' },
      ],
    ]);
    for (const { headers } of received) {
      expect(headers['content-type']).toBe('application/x-amz-json-1.0');
      expect(headers.authorization).toMatch(
        /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/states\/aws4_request, SignedHeaders=.*x-amz-target.*, Signature=[0-9a-f]{64}$/,
      );
      expect(headers['x-amz-security-token']).toBe('session');
    }
  });

  it('answers TaskGoneError for a task that no longer waits, and rethrows anything else', async () => {
    for (const type of ['TaskTimedOut', 'TaskDoesNotExist', 'InvalidToken']) {
      answer = {
        status: 400,
        body: { __type: `com.amazonaws.swf.service.v2.model#${type}`, message: 'gone' },
      };
      await expect(callbacks.succeed('t', {})).rejects.toBeInstanceOf(TaskGoneError);
    }
    answer = {
      status: 400,
      body: { message: 'slow down' },
      headers: { 'x-amzn-errortype': 'ThrottlingException:http://internal' },
    };
    const throttled = callbacks.succeed('t', {});
    await expect(throttled).rejects.toThrow(/ThrottlingException/);
    await expect(throttled).rejects.not.toBeInstanceOf(TaskGoneError);
  });
});
