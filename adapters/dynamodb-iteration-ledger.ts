import { GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { counterOf, FINAL_ITERATION_STATUS, IterationRecord } from '../core/job.ts';
import type { IterationLedger } from '../core/ports.ts';
import { conditionally } from './conditional-write.ts';
import { ITERATION_SK_PREFIX, iterationSk, JOB_SK, jobPk } from './jobs-table.ts';
import { TableAdapter } from './table-adapter.ts';

/** Iteration items beside their job item, each counted into the job once (the `counted` set). */
export class DynamoDbIterationLedger extends TableAdapter implements IterationLedger {
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
    // Stored over anything but a final record (see mayReplaceIteration), in one conditional write.
    const stored = await conditionally(
      this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { pk: jobPk(record.job_id), sk: iterationSk(record.iteration), ttl: expiresAt, ...record },
          ConditionExpression: 'attribute_not_exists(pk) OR #status <> :final',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':final': FINAL_ITERATION_STATUS },
        }),
      ),
    );
    if (!stored) {
      // A success is already stored: count it, in case whoever stored it died before counting.
      const success = await this.getIteration(record.job_id, record.iteration);
      if (success) await this.count(success);
      return;
    }
    await this.count(record);
  }

  /** Adds the iteration's images to the job's counters, once: the counted set guards the ADD. */
  private async count(record: IterationRecord): Promise<void> {
    const counter = counterOf(record);
    // An image made means a host works: the outage the job waited on is over (same write).
    const over = record.status === 'succeeded' ? ' REMOVE outage' : '';
    await conditionally(
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: jobPk(record.job_id), sk: JOB_SK },
          UpdateExpression: `SET counted_at = :at ADD ${counter} :count, counted :iteration${over}`,
          ConditionExpression: 'attribute_exists(pk) AND NOT contains(counted, :i)',
          ExpressionAttributeValues: {
            ':count': record.image_count,
            ':at': record.finished_at,
            ':iteration': new Set([record.iteration]),
            ':i': record.iteration,
          },
        }),
      ),
    );
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
