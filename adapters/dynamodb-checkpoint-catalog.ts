import { type DynamoDBDocumentClient, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { CheckpointCatalog, HostCheckpoints } from '../core/checkpoints.ts';
import type { Checkpoint } from '../core/ports.ts';
import { CHECKPOINTS_PK } from './jobs-table.ts';
import { TableAdapter } from './table-adapter.ts';

/** How often one worker reads and records a host's list when no job names a checkpoint. */
const REFRESH_MS = 10 * 60 * 1000;

/** Each host's checkpoint list as one item of one small partition, read whole by the gateway. */
export class DynamoDbCheckpointCatalog extends TableAdapter implements CheckpointCatalog {
  private readonly recorded = new Map<string, { at: number; digest: string }>();
  private readonly now: () => number;

  constructor(db: DynamoDBDocumentClient, tableName: string, now: () => number = Date.now) {
    super(db, tableName);
    this.now = now;
  }

  due(hostId: string): boolean {
    const last = this.recorded.get(hostId);
    return !last || this.now() - last.at >= REFRESH_MS;
  }

  async record(hostId: string, checkpoints: readonly Checkpoint[]): Promise<void> {
    const kept = checkpoints.map(({ title, model_name, filename, hash, sha256 }) => ({
      title,
      model_name,
      ...(filename ? { filename } : {}),
      ...(hash ? { hash } : {}),
      ...(sha256 ? { sha256 } : {}),
    }));
    const digest = JSON.stringify(kept);
    const last = this.recorded.get(hostId);
    // The same list again within the refresh time is not worth a write.
    if (last && last.digest === digest && this.now() - last.at < REFRESH_MS) return;
    const readAt = this.now();
    await this.db.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          pk: CHECKPOINTS_PK,
          sk: `HOST#${hostId}`,
          host_id: hostId,
          checkpoints: kept,
          read_at: readAt,
        },
      }),
    );
    this.recorded.set(hostId, { at: readAt, digest });
  }

  async read(): Promise<HostCheckpoints[]> {
    const { Items = [] } = await this.db.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': CHECKPOINTS_PK },
      }),
    );
    return Items.map((item) => ({
      hostId: String(item.host_id),
      checkpoints: (item.checkpoints ?? []) as Checkpoint[],
      readAt: Number(item.read_at),
    }));
  }
}
