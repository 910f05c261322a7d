import { DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { TokenRecord, type TokenStore } from '../core/tokens.ts';
import { conditionally } from './conditional-write.ts';
import { TOKEN_DIGEST_PK_PREFIX } from './jobs-table.ts';
import { TableAdapter } from './table-adapter.ts';

/** Names in one partition (listing is one query); each live token also under its digest (checking is one read). */
const NAMES_PK = 'TOKENS';
const hashPk = (hash: string) => `${TOKEN_DIGEST_PK_PREFIX}${hash}`;
const TOKEN_SK = 'TOKEN';

export class DynamoDbTokenStore extends TableAdapter implements TokenStore {
  async create(record: TokenRecord): Promise<boolean> {
    const named = await conditionally(
      this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { pk: NAMES_PK, sk: record.name, ...record },
          // A revoked name may be reissued; a live one may not.
          ConditionExpression: 'attribute_not_exists(pk) OR attribute_exists(revoked_at)',
        }),
      ),
    );
    if (!named) return false;
    await this.db.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { pk: hashPk(record.hash), sk: TOKEN_SK, ...record },
      }),
    );
    return true;
  }

  async findByHash(hash: string): Promise<TokenRecord | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { pk: hashPk(hash), sk: TOKEN_SK },
        ConsistentRead: true,
      }),
    );
    return Item ? TokenRecord.parse(Item) : undefined;
  }

  async list(): Promise<TokenRecord[]> {
    const records: TokenRecord[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.db.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': NAMES_PK },
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) records.push(TokenRecord.parse(item));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return records;
  }

  async revoke(name: string, at: string): Promise<boolean> {
    const revoked = await conditionally(
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: NAMES_PK, sk: name },
          UpdateExpression: 'SET revoked_at = :at',
          ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(revoked_at)',
          ExpressionAttributeValues: { ':at': at },
          ReturnValues: 'ALL_NEW',
        }),
      ),
    );
    if (!revoked) return false;
    const hash = String(revoked.Attributes?.hash);
    // Without its digest item the token no longer authenticates anywhere.
    await this.db.send(
      new DeleteCommand({ TableName: this.tableName, Key: { pk: hashPk(hash), sk: TOKEN_SK } }),
    );
    return true;
  }
}
