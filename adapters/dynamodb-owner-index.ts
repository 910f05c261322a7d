import {
  BatchGetCommand,
  type BatchGetCommandOutput,
  GetCommand,
  PutCommand,
  paginateQuery,
  QueryCommand,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { InvalidRequestError } from '../core/errors.ts';
import { JobRecord } from '../core/job.ts';
import { ACTIVE_STATUSES, type JobStatus } from '../core/job-status.ts';
import type { Admission, ClientTokenClaim, JobListQuery, JobPage, OwnerIndex } from '../core/ports.ts';
import { conditionally } from './conditional-write.ts';
import { DynamoDbOwnerAdmissions } from './dynamodb-owner-admissions.ts';
import { CLIENT_TOKEN_SK, clientTokenPk, JOB_SK, JOBS_TABLE, jobPk, ownerPk } from './jobs-table.ts';
import { TableAdapter } from './table-adapter.ts';

const isMissingIndex = (error: unknown): boolean =>
  (error as Error).name === 'ValidationException' && /specified index/i.test((error as Error).message);

const encodeCursor = (key: Record<string, unknown>) => Buffer.from(JSON.stringify(key)).toString('base64url');

/** The exact shape of the owner index's LastEvaluatedKey: anything else is not our cursor. */
const OwnerIndexKey = z.strictObject({
  pk: z.string().regex(/^JOB#job_\d{8}_[a-z2-7]{10}$/),
  sk: z.literal(JOB_SK),
  owner_pk: z.string(),
  owner_sk: z.string().regex(/^\d{4}-\d{2}-\d{2}T[\d:.]+Z#job_\d{8}_[a-z2-7]{10}$/),
});

function decodeCursor(cursor: string, owner: string): Record<string, unknown> {
  try {
    const key = OwnerIndexKey.parse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
    // A cursor only pages the caller's own index partition.
    if (key.owner_pk !== ownerPk(owner)) throw new Error('foreign cursor');
    return key;
  } catch {
    throw new InvalidRequestError(
      'cursor: not a cursor this server handed out; omit it to start from the newest job',
    );
  }
}

/**
 * The owner's jobs through the table's two indexes (by owner, and the sparse active one), the
 * owner's admission item and the client-token items.
 */
export class DynamoDbOwnerIndex extends TableAdapter implements OwnerIndex {
  private readonly admissions = new DynamoDbOwnerAdmissions(this.db, this.tableName);

  admit(owner: string, jobId: string, limit: number, at: number): Promise<Admission> {
    return this.admissions.admit(owner, jobId, limit, at, {
      activeJobIds: (id) => this.activeJobIds(id),
      statuses: async (ids) => {
        const found = new Map<string, JobStatus>();
        for (let i = 0; i < ids.length; i += 100) {
          const keys = ids.slice(i, i + 100).map((id) => ({ pk: jobPk(id), sk: JOB_SK }));
          for (const job of await this.jobsByKey(keys)) found.set(job.job_id, job.status);
        }
        return found;
      },
    });
  }

  withdraw(owner: string, jobId: string): Promise<void> {
    return this.admissions.withdraw(owner, jobId, Date.now());
  }

  /** The owner's jobs not yet ended (pending or running), from the sparse active index. */
  private async activeJobIds(owner: string): Promise<string[]> {
    try {
      return await this.jobIdsOf({
        IndexName: JOBS_TABLE.activeIndex.name,
        KeyConditionExpression: 'active_owner_pk = :owner',
        ExpressionAttributeValues: { ':owner': ownerPk(owner) },
      });
    } catch (error) {
      if (!isMissingIndex(error)) throw error;
      // A table made before the active index existed (dynalite cannot add an index to a table
      // that has one already): the slow way, through the caller's whole history.
      return this.jobIdsOf({
        IndexName: JOBS_TABLE.ownerIndex.name,
        KeyConditionExpression: 'owner_pk = :owner',
        FilterExpression: `#status IN (${ACTIVE_STATUSES.map((_, i) => `:s${i}`).join(', ')})`,
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: {
          ':owner': ownerPk(owner),
          ...Object.fromEntries(ACTIVE_STATUSES.map((status, i) => [`:s${i}`, status])),
        },
      });
    }
  }

  private async jobIdsOf(query: Omit<QueryCommandInput, 'TableName'>): Promise<string[]> {
    const ids: string[] = [];
    for await (const page of paginateQuery({ client: this.db }, { ...query, TableName: this.tableName })) {
      for (const item of page.Items ?? []) ids.push(String(item.pk).slice('JOB#'.length));
    }
    return ids;
  }

  async listByOwner(owner: string, query: JobListQuery): Promise<JobPage> {
    const jobs: JobRecord[] = [];
    let startKey = query.cursor ? decodeCursor(query.cursor, owner) : undefined;
    // A status filter may thin a page out: keep reading until the page is full or the index ends.
    do {
      const page = await this.db.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: JOBS_TABLE.ownerIndex.name,
          KeyConditionExpression: 'owner_pk = :owner',
          ExpressionAttributeValues: {
            ':owner': ownerPk(owner),
            ...(query.status ? { ':status': query.status } : {}),
          },
          ...(query.status
            ? { FilterExpression: '#status = :status', ExpressionAttributeNames: { '#status': 'status' } }
            : {}),
          ScanIndexForward: false,
          Limit: query.limit - jobs.length,
          ExclusiveStartKey: startKey,
        }),
      );
      jobs.push(...(await this.jobsByKey(page.Items ?? [])));
      startKey = page.LastEvaluatedKey;
    } while (startKey && jobs.length < query.limit);
    return { jobs, nextCursor: startKey ? encodeCursor(startKey) : undefined };
  }

  /** The job items an index page names, in the page's order (the index holds their keys only). */
  private async jobsByKey(entries: Record<string, unknown>[]): Promise<JobRecord[]> {
    if (entries.length === 0) return [];
    const found = new Map<string, Record<string, unknown>>();
    // At most 100 keys per page (the list limit), BatchGetItem's own limit; it may defer some.
    let keys: Record<string, unknown>[] | undefined = entries.map((e) => ({ pk: e.pk, sk: e.sk }));
    for (let round = 0; keys && keys.length > 0; round++) {
      if (round > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 50 * 2 ** round)));
      const answer: BatchGetCommandOutput = await this.db.send(
        new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: keys } } }),
      );
      for (const item of answer.Responses?.[this.tableName] ?? []) found.set(String(item.pk), item);
      keys = answer.UnprocessedKeys?.[this.tableName]?.Keys;
    }
    // An item gone between the index read and this one (expired, swept) is left out.
    return entries.flatMap((e) => {
      const item = found.get(String(e.pk));
      return item ? [JobRecord.parse(item)] : [];
    });
  }

  async countActive(owner: string): Promise<number> {
    return (await this.activeJobIds(owner)).length;
  }

  async claimClientToken(claim: ClientTokenClaim): Promise<ClientTokenClaim> {
    const key = { pk: clientTokenPk(claim.owner, claim.token), sk: CLIENT_TOKEN_SK };
    const claimed = await conditionally(
      this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...key, ttl: claim.expiresAt, job_id: claim.jobId, fingerprint: claim.fingerprint },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      ),
    );
    if (claimed) return claim;
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }),
    );
    return { ...claim, jobId: String(Item?.job_id), fingerprint: String(Item?.fingerprint) };
  }
}
