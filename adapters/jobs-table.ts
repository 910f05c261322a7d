import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';

/**
 * The single table's key schema, declared once: the CDK app builds the table from it and the
 * embedded stack creates the same table in dynalite.
 */
export const JOBS_TABLE = {
  partitionKey: 'pk',
  sortKey: 'sk',
  ttlAttribute: 'ttl',
  /**
   * Keys and status only: a job item is written on every counted iteration and progress tick, and
   * an index that projected it all would be written each time too (twice the write units). A
   * listing reads the page's items from the table instead, at a fifth of a write's price.
   */
  ownerIndex: { name: 'by-owner', partitionKey: 'owner_pk', sortKey: 'owner_sk', projected: ['status'] },
  /**
   * Sparse: a job item carries `active_owner_pk` only while it is pending or running, so counting
   * a caller's active jobs reads those few keys and not the caller's whole history.
   */
  activeIndex: { name: 'active-by-owner', partitionKey: 'active_owner_pk' },
} as const;

export const jobPk = (jobId: string): string => `JOB#${jobId}`;
export const JOB_SK = 'JOB';
export const iterationSk = (iteration: number): string => `ITER#${String(iteration).padStart(3, '0')}`;
export const ITERATION_SK_PREFIX = 'ITER#';
export const ownerPk = (owner: string): string => `OWNER#${owner}`;
export const clientTokenPk = (owner: string, token: string): string => `TOKEN#${owner}#${token}`;
export const CLIENT_TOKEN_SK = 'TOKEN';
/**
 * The owner's count of admitted jobs not yet ended (`active`): the per-caller limit is a condition
 * on it, so concurrent starts cannot all pass it. Each admitted job has a marker beside it
 * (see DynamoDbOwnerAdmissions).
 */
export const ADMITTED_SK = 'ADMITTED';
export const ADMISSION_SK_PREFIX = 'ADMIT#';
export const admissionSk = (jobId: string): string => `${ADMISSION_SK_PREFIX}${jobId}`;
/** Named bearer tokens' digest items, the only items the gateway deletes (on revoke). */
export const TOKEN_DIGEST_PK_PREFIX = 'TOKEN#';
/** Each GPU host's lists of names, as workers last read them (see DynamoDbHostNameCatalog). */
export const HOST_NAMES_PK = 'HOST_NAMES';
/** The GPU host pool's partition (leases, health, waiters); the only items a worker deletes. */
export const POOL_PK_PREFIX = 'POOL#';

export function createTableInput(tableName: string): CreateTableCommandInput {
  const { partitionKey, sortKey, ownerIndex, activeIndex } = JOBS_TABLE;
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      partitionKey,
      sortKey,
      ownerIndex.partitionKey,
      ownerIndex.sortKey,
      activeIndex.partitionKey,
    ].map((name) => ({
      AttributeName: name,
      AttributeType: 'S',
    })),
    KeySchema: [
      { AttributeName: partitionKey, KeyType: 'HASH' },
      { AttributeName: sortKey, KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: [
      {
        IndexName: ownerIndex.name,
        KeySchema: [
          { AttributeName: ownerIndex.partitionKey, KeyType: 'HASH' },
          { AttributeName: ownerIndex.sortKey, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: [...ownerIndex.projected] },
      },
      {
        IndexName: activeIndex.name,
        KeySchema: [{ AttributeName: activeIndex.partitionKey, KeyType: 'HASH' }],
        Projection: { ProjectionType: 'KEYS_ONLY' },
      },
    ],
  };
}
