import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import {
  type CurrentProgress,
  IterationRecord,
  isTerminal,
  JobRecord,
  type JobStatus,
} from '../../core/job.ts';
import type { JobStore } from '../../core/ports.ts';
import { ITERATION_SK_PREFIX, iterationSk, JOB_SK, jobPk, ownerPk } from './jobs-table.ts';

const isConditionFailure = (error: unknown): boolean => error instanceof ConditionalCheckFailedException;

export class DynamoDbJobStore implements JobStore {
  private readonly db: DynamoDBDocumentClient;
  private readonly tableName: string;

  constructor(db: DynamoDBDocumentClient, tableName: string) {
    this.db = db;
    this.tableName = tableName;
  }

  async create(job: JobRecord): Promise<void> {
    await this.db.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          pk: jobPk(job.job_id),
          sk: JOB_SK,
          owner_pk: ownerPk(job.owner),
          owner_sk: `${job.created_at}#${job.job_id}`,
          ttl: job.expires_at,
          ...job,
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  }

  async get(jobId: string): Promise<JobRecord | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { pk: jobPk(jobId), sk: JOB_SK },
        ConsistentRead: true,
      }),
    );
    return Item ? JobRecord.parse(Item) : undefined;
  }

  async transition(jobId: string, from: JobStatus[], to: JobStatus, at: string): Promise<boolean> {
    const stamp = to === 'running' ? 'started_at' : isTerminal(to) ? 'finished_at' : undefined;
    const fromValues = Object.fromEntries(from.map((status, i) => [`:from${i}`, status]));
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: jobPk(jobId), sk: JOB_SK },
          UpdateExpression: `SET #status = :to${stamp ? `, ${stamp} = :at` : ''} REMOVE #current`,
          ConditionExpression: `#status IN (${Object.keys(fromValues).join(', ')})`,
          ExpressionAttributeNames: { '#status': 'status', '#current': 'current' },
          ExpressionAttributeValues: { ':to': to, ...(stamp ? { ':at': at } : {}), ...fromValues },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async setCurrent(jobId: string, current: CurrentProgress): Promise<void> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: jobPk(jobId), sk: JOB_SK },
          UpdateExpression: 'SET #current = :current',
          ConditionExpression: '#status = :running',
          ExpressionAttributeNames: { '#current': 'current', '#status': 'status' },
          ExpressionAttributeValues: { ':current': current, ':running': 'running' },
        }),
      );
    } catch (error) {
      // The job ended meanwhile: live progress no longer matters.
      if (!isConditionFailure(error)) throw error;
    }
  }

  async getIteration(jobId: string, iteration: number): Promise<IterationRecord | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { pk: jobPk(jobId), sk: iterationSk(iteration) },
        ConsistentRead: true,
      }),
    );
    return Item ? IterationRecord.parse(Item) : undefined;
  }

  async recordIteration(record: IterationRecord, expiresAt: number): Promise<void> {
    try {
      // A success is final: a late failure report for the same iteration must not replace it.
      await this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { pk: jobPk(record.job_id), sk: iterationSk(record.iteration), ttl: expiresAt, ...record },
          ConditionExpression: 'attribute_not_exists(pk) OR #status <> :succeeded',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':succeeded': 'succeeded' },
        }),
      );
    } catch (error) {
      if (isConditionFailure(error)) return;
      throw error;
    }
    const counter = record.status === 'succeeded' ? 'completed_images' : 'failed_images';
    try {
      // The set of counted iterations makes the increment idempotent under retries.
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: jobPk(record.job_id), sk: JOB_SK },
          UpdateExpression: `ADD ${counter} :count, counted :iteration`,
          ConditionExpression: 'attribute_exists(pk) AND NOT contains(counted, :i)',
          ExpressionAttributeValues: {
            ':count': record.image_count,
            ':iteration': new Set([record.iteration]),
            ':i': record.iteration,
          },
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
  }

  async listIterations(jobId: string): Promise<IterationRecord[]> {
    const records: IterationRecord[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.db.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          ExpressionAttributeValues: { ':pk': jobPk(jobId), ':prefix': ITERATION_SK_PREFIX },
          ExclusiveStartKey: startKey,
          ConsistentRead: true,
        }),
      );
      for (const item of page.Items ?? []) records.push(IterationRecord.parse(item));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return records;
  }
}
