import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, ProjectionType, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { JOBS_TABLE, POOL_PK_PREFIX, TOKEN_DIGEST_PK_PREFIX } from '../../adapters/jobs-table.ts';
import { ENV } from '../../lambdas/config/env.ts';
import type { NodeFunction } from './node-function.ts';

const string = (name: string) => ({ name, type: AttributeType.STRING });

/** What DynamoDbJobStore and the pool call; nothing scans or batches. */
const ITEM_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:BatchGetItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:Query',
];

/**
 * The single table: job items, iteration items and the owner index, with the key schema the
 * embedded stack creates in dynalite (both read JOBS_TABLE).
 */
export class JobsTable extends Construct {
  readonly table: Table;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    const { partitionKey, sortKey, ttlAttribute, ownerIndex, activeIndex } = JOBS_TABLE;
    this.table = new Table(this, 'Table', {
      partitionKey: string(partitionKey),
      sortKey: string(sortKey),
      // Idle most of the time, bursty when a batch runs: pay per request, nothing at rest but storage.
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      // The aws/dynamodb key: KMS encryption visible in CloudTrail, no key to manage or pay for.
      encryption: TableEncryption.AWS_MANAGED,
      timeToLiveAttribute: ttlAttribute,
      // Jobs are user data: `cdk destroy` keeps the table (delete it by hand when you mean it).
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.table.addGlobalSecondaryIndex({
      indexName: ownerIndex.name,
      partitionKey: string(ownerIndex.partitionKey),
      sortKey: string(ownerIndex.sortKey),
      projectionType: ProjectionType.INCLUDE,
      nonKeyAttributes: [...ownerIndex.projected],
    });
    this.table.addGlobalSecondaryIndex({
      indexName: activeIndex.name,
      partitionKey: string(activeIndex.partitionKey),
      projectionType: ProjectionType.KEYS_ONLY,
    });
  }

  /** The workflow's tasks: job and iteration items by key, never the index. */
  bindWorker(fn: NodeFunction): void {
    this.bind(fn, [this.table.tableArn]);
    // The GPU pool forgets a job's place in the queue by deleting it; no job item may be deleted.
    this.allowDeleteIn(fn, POOL_PK_PREFIX);
  }

  private allowDeleteIn(fn: NodeFunction, partitionPrefix: string): void {
    fn.role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['dynamodb:DeleteItem'],
        resources: [this.table.tableArn],
        conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${partitionPrefix}*`] } },
      }),
    );
  }

  /** The gateway: job items, plus the owner indexes that list and count a caller's jobs. */
  bindGateway(fn: NodeFunction): void {
    const index = (name: string) => `${this.table.tableArn}/index/${name}`;
    this.bind(fn, [
      this.table.tableArn,
      index(JOBS_TABLE.ownerIndex.name),
      index(JOBS_TABLE.activeIndex.name),
    ]);
    // Revoking a named token deletes its digest item; nothing else may be deleted.
    this.allowDeleteIn(fn, TOKEN_DIGEST_PK_PREFIX);
  }

  private bind(fn: NodeFunction, resources: string[]): void {
    fn.role.addToPrincipalPolicy(new PolicyStatement({ actions: ITEM_ACTIONS, resources }));
    fn.addEnvironment(ENV.tableName, this.table.tableName);
  }
}
