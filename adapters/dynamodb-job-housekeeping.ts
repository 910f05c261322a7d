import { BatchWriteCommand, GetCommand, paginateQuery, paginateScan } from '@aws-sdk/lib-dynamodb';
import { JobRecord } from '../core/job.ts';
import { ACTIVE_STATUSES } from '../core/job-status.ts';
import type { JobHousekeeping } from '../core/ports.ts';
import { ITERATION_SK_PREFIX, JOB_SK, jobPk } from './jobs-table.ts';
import { TableAdapter } from './table-adapter.ts';

type Item = Record<string, unknown>;

/**
 * The jobs table's housekeeping for the embedded stack, by scans: dynalite expires nothing by
 * TTL, so the stack sweeps what DynamoDB would. A job that has not ended has no TTL (see
 * DynamoDbJobRecords.transition), so it never expires here.
 */
export class DynamoDbJobHousekeeping extends TableAdapter implements JobHousekeeping {
  async activeJobs(): Promise<JobRecord[]> {
    const items = await this.scan(
      `sk = :job AND #status IN (${ACTIVE_STATUSES.map((_, i) => `:s${i}`).join(', ')})`,
      { ':job': JOB_SK, ...Object.fromEntries(ACTIVE_STATUSES.map((s, i) => [`:s${i}`, s])) },
      { '#status': 'status' },
    );
    return items.map((item) => JobRecord.parse(item));
  }

  async expiredJobs(nowSeconds: number): Promise<string[]> {
    const items = await this.scan(
      'sk = :job AND #ttl <= :now',
      { ':job': JOB_SK, ':now': nowSeconds },
      { '#ttl': 'ttl' },
    );
    return items.map((item) => String(item.job_id));
  }

  async deleteJob(jobId: string): Promise<number> {
    const items: Item[] = [];
    const pages = paginateQuery(
      { client: this.db },
      {
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': jobPk(jobId) },
        ProjectionExpression: 'pk, sk',
        ConsistentRead: true,
      },
    );
    for await (const page of pages) items.push(...(page.Items ?? []));
    await this.delete(items);
    return items.length;
  }

  async deleteExpiredItems(nowSeconds: number): Promise<number> {
    const expired = await this.scan('#ttl <= :now', { ':now': nowSeconds }, { '#ttl': 'ttl' });
    const doomed: Item[] = [];
    for (const item of expired) {
      if (item.sk === JOB_SK) continue;
      // An iteration goes with its job, not before it.
      if (String(item.sk).startsWith(ITERATION_SK_PREFIX) && (await this.jobExists(String(item.job_id))))
        continue;
      doomed.push(item);
    }
    await this.delete(doomed);
    return doomed.length;
  }

  private async jobExists(jobId: string): Promise<boolean> {
    const { Item } = await this.db.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { pk: jobPk(jobId), sk: JOB_SK },
        ConsistentRead: true,
      }),
    );
    return Item !== undefined;
  }

  private async scan(filter: string, values: Item, names: Record<string, string>): Promise<Item[]> {
    const items: Item[] = [];
    const pages = paginateScan(
      { client: this.db },
      {
        TableName: this.tableName,
        FilterExpression: filter,
        ExpressionAttributeValues: values,
        ExpressionAttributeNames: names,
        ConsistentRead: true,
      },
    );
    for await (const page of pages) items.push(...(page.Items ?? []));
    return items;
  }

  private async delete(items: Item[]): Promise<void> {
    for (let i = 0; i < items.length; i += 25) {
      await this.db.send(
        new BatchWriteCommand({
          RequestItems: {
            [this.tableName]: items
              .slice(i, i + 25)
              .map((item) => ({ DeleteRequest: { Key: { pk: item.pk, sk: item.sk } } })),
          },
        }),
      );
    }
  }
}
