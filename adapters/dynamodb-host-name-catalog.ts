import { type DynamoDBDocumentClient, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { type HostNameCatalog, HostNames, type HostNamesRead } from '../core/host-names.ts';
import { HOST_NAMES_PK } from './jobs-table.ts';
import { TableAdapter } from './table-adapter.ts';

/** How often one worker reads and records a host's lists. */
const REFRESH_MS = 10 * 60 * 1000;

/**
 * Each host's lists of names as one item of one small partition, read whole by the gateway. Only
 * what names are matched on is kept (no sampler options, upscaler paths or checkpoint configs),
 * so an item stays a few kilobytes even for a host with hundreds of models.
 */
export class DynamoDbHostNameCatalog extends TableAdapter implements HostNameCatalog {
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

  async record(hostId: string, names: HostNames): Promise<void> {
    const kept = {
      ...names,
      ...(names.checkpoints
        ? {
            checkpoints: names.checkpoints.map(({ title, model_name, filename, hash, sha256 }) => ({
              title,
              model_name,
              ...(filename ? { filename } : {}),
              ...(hash ? { hash } : {}),
              ...(sha256 ? { sha256 } : {}),
            })),
          }
        : {}),
    };
    const digest = JSON.stringify(kept);
    const last = this.recorded.get(hostId);
    // The same lists again within the refresh time are not worth a write.
    if (last && last.digest === digest && this.now() - last.at < REFRESH_MS) return;
    const readAt = this.now();
    await this.db.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { pk: HOST_NAMES_PK, sk: `HOST#${hostId}`, host_id: hostId, names: kept, read_at: readAt },
      }),
    );
    this.recorded.set(hostId, { at: readAt, digest });
  }

  async read(): Promise<HostNamesRead[]> {
    const { Items = [] } = await this.db.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': HOST_NAMES_PK },
      }),
    );
    // An item another version wrote in another shape is a list unknown, not a refusal.
    return Items.flatMap((item) => {
      const names = HostNames.safeParse(item.names);
      return names.success
        ? [{ hostId: String(item.host_id), names: names.data, readAt: Number(item.read_at) }]
        : [];
    });
  }
}
