import { Readable } from 'node:stream';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { Metrics } from '../../../bench/metrics.ts';

/** A DynamoDB client whose "server" records each request body and answers with the given JSON. */
function clientAnswering(answer: (body: Record<string, unknown>) => Record<string, unknown>) {
  const sent: Array<Record<string, unknown>> = [];
  const client = new DynamoDBClient({
    region: 'us-east-1',
    endpoint: 'http://127.0.0.1:1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
    requestHandler: {
      handle: async (request: { body: string | Uint8Array }) => {
        const text = typeof request.body === 'string' ? request.body : new TextDecoder().decode(request.body);
        const body = JSON.parse(text) as Record<string, unknown>;
        sent.push(body);
        return {
          response: {
            statusCode: 200,
            headers: { 'content-type': 'application/x-amz-json-1.0' },
            body: Readable.from([Buffer.from(JSON.stringify(answer(body)))]),
          },
        };
      },
    },
  });
  const metrics = new Metrics();
  metrics.hooks().instrumentClient?.('DynamoDB', client);
  return { db: DynamoDBDocumentClient.from(client), metrics, sent };
}

describe('the bench metrics on a document client', () => {
  it('price a read from the answer (parsed, with its consumed capacity) and hand the code the answer it asked for', async () => {
    const item = { pk: { S: 'POOL#gpu' }, sk: { S: 'SLOT' }, big: { S: 'x'.repeat(9000) } };
    const { db, metrics, sent } = clientAnswering(() => ({
      Item: item,
      ConsumedCapacity: { CapacityUnits: 3 },
    }));
    const answer = await db.send(
      new GetCommand({ TableName: 'jobs', Key: { pk: 'POOL#gpu', sk: 'SLOT' }, ConsistentRead: true }),
    );
    expect(sent[0]).toMatchObject({ ReturnConsumedCapacity: 'TOTAL' });
    expect(answer.ConsumedCapacity).toBeUndefined();
    expect(answer.Item?.pk).toBe('POOL#gpu');
    const snapshot = metrics.snapshot();
    expect(snapshot.aws).toEqual([
      expect.objectContaining({ command: 'GetItemCommand', requests: 1, rru: 3 }),
    ]);
    // 9 KB read strongly consistent: the meter's own sizing agrees with the figure answered.
    expect(snapshot.capacity.dynaliteChecks).toMatchObject({ agree: 1, disagree: 0 });
    expect(snapshot.capacity.peakRead).toMatchObject({ partition: 'table POOL#gpu', units: 3 });
  });

  it('ask a write for the old item to size it, and take it out of the answer', async () => {
    const old = { pk: { S: 'JOB#job_1' }, sk: { S: 'JOB' }, notes: { S: 'x'.repeat(1500) } };
    const { db, metrics, sent } = clientAnswering(() => ({ Attributes: old }));
    const answer = await db.send(new PutCommand({ TableName: 'jobs', Item: { pk: 'JOB#job_1', sk: 'JOB' } }));
    expect(sent[0]).toMatchObject({ ReturnValues: 'ALL_OLD' });
    expect(answer.Attributes).toBeUndefined();
    // The 1.5 KB item replaced: 2 write units.
    expect(metrics.snapshot().aws).toEqual([expect.objectContaining({ command: 'PutItemCommand', wru: 2 })]);
  });
});
