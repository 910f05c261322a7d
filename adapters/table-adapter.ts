import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/**
 * What every adapter over the jobs table holds: the document client and the table's name. (Node
 * runs the TypeScript as it is, so constructor parameter properties, which are not erasable, are
 * not an option.)
 */
export abstract class TableAdapter {
  protected readonly db: DynamoDBDocumentClient;
  protected readonly tableName: string;

  constructor(db: DynamoDBDocumentClient, tableName: string) {
    this.db = db;
    this.tableName = tableName;
  }
}
