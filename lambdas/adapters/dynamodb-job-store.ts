import {
  BatchGetCommand,
  type BatchGetCommandOutput,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  paginateQuery,
  QueryCommand,
  type QueryCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { isStaleAdmission } from '../../core/admission.ts';
import { InvalidRequestError } from '../../core/errors.ts';
import {
  type ContactSheet,
  type CurrentProgress,
  counterOf,
  expiryFrom,
  FINAL_ITERATION_STATUS,
  IterationRecord,
  JobRecord,
  notesToDrop,
} from '../../core/job.ts';
import {
  ACTIVE_STATUSES,
  isActive,
  type JobStatus,
  PROGRESS_STATUS,
  planTransition,
} from '../../core/job-status.ts';
import type { Admission, ClientTokenClaim, JobListQuery, JobPage, JobStore } from '../../core/ports.ts';
import { conditionally, wrote } from './conditional-write.ts';
import {
  ADMITTED_SK,
  CLIENT_TOKEN_SK,
  clientTokenPk,
  ITERATION_SK_PREFIX,
  iterationSk,
  JOB_SK,
  JOBS_TABLE,
  jobPk,
  ownerPk,
} from './jobs-table.ts';

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

export class DynamoDbJobStore implements JobStore {
  private readonly db: DynamoDBDocumentClient;
  private readonly tableName: string;

  constructor(db: DynamoDBDocumentClient, tableName: string) {
    this.db = db;
    this.tableName = tableName;
  }

  async create(job: JobRecord): Promise<boolean> {
    return wrote(
      this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            pk: jobPk(job.job_id),
            sk: JOB_SK,
            owner_pk: ownerPk(job.owner),
            owner_sk: `${job.created_at}#${job.job_id}`,
            ...(isActive(job.status) ? { active_owner_pk: ownerPk(job.owner) } : {}),
            ttl: job.expires_at,
            ...job,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      ),
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
    const plan = planTransition(from, to, at);
    const stamps = Object.entries(plan.stamps);
    const fromValues = Object.fromEntries(from.map((status, i) => [`:from${i}`, status]));
    const moved = await conditionally(
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: jobPk(jobId), sk: JOB_SK },
          // Leaving the active states also leaves the sparse active-jobs index. A running job has no
          // TTL: DynamoDB (and the embedded sweep) cannot delete it however long it runs.
          UpdateExpression: `SET #status = :to${stamps.map(([name]) => `, ${name} = :${name}`).join('')} REMOVE #current${plan.ends ? ', active_owner_pk' : ''}${plan.starts ? ', #ttl' : ''}`,
          ConditionExpression: `#status IN (${Object.keys(fromValues).join(', ')})`,
          ExpressionAttributeNames: {
            '#status': 'status',
            '#current': 'current',
            ...(plan.starts ? { '#ttl': 'ttl' } : {}),
          },
          ExpressionAttributeValues: {
            ':to': to,
            ...Object.fromEntries(stamps.map(([name, value]) => [`:${name}`, value])),
            ...fromValues,
          },
          ReturnValues: 'ALL_NEW',
        }),
      ),
    );
    // Ended: it no longer counts against its owner's limit (a crash before this write is
    // repaired by the next admission that finds the list full).
    if (moved && plan.ends && moved.Attributes) {
      const ended = JobRecord.parse(moved.Attributes);
      // Its retention counts from its end: the job and its TTL expire together.
      const expiresAt = expiryFrom(ended, Date.parse(at));
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: jobPk(jobId), sk: JOB_SK },
          UpdateExpression: 'SET #ttl = :e, expires_at = :e',
          ExpressionAttributeNames: { '#ttl': 'ttl' },
          ExpressionAttributeValues: { ':e': expiresAt },
        }),
      );
      await this.withdraw(ended.owner, jobId);
    }
    return moved !== undefined;
  }

  async admit(owner: string, jobId: string, limit: number, at: number): Promise<Admission> {
    const key = { pk: ownerPk(owner), sk: ADMITTED_SK };
    // Three rounds at most: a full list cleared of stale entries, or a first list made by another start.
    for (let round = 0; round < 3; round++) {
      const added = await wrote(
        this.db.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: key,
            UpdateExpression: 'SET jobs.#id = :at',
            // Admitting the same job again (a retried start with its client_token) takes no room.
            ConditionExpression: 'attribute_exists(jobs.#id) OR size(jobs) < :limit',
            ExpressionAttributeNames: { '#id': jobId },
            ExpressionAttributeValues: { ':at': at, ':limit': limit },
          }),
        ),
      );
      if (added) return { admitted: true };
      const { Item } = await this.db.send(
        new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }),
      );
      const admitted = Item?.jobs as Record<string, number> | undefined;
      if (!admitted) {
        // The owner's first start since admissions were kept: the list starts from the jobs the
        // active index holds, so jobs started before count too.
        const active = await this.activeJobIds(owner);
        const jobs = Object.fromEntries(active.map((id) => [id, at]));
        if (active.length < limit) jobs[jobId] = at;
        const created = await wrote(
          this.db.send(
            new PutCommand({
              TableName: this.tableName,
              Item: { ...key, jobs },
              ConditionExpression: 'attribute_not_exists(pk)',
            }),
          ),
        );
        if (created)
          return active.length < limit ? { admitted: true } : { admitted: false, active: active.length };
        continue;
      }
      // The list was made meanwhile by another start, with room: ask again.
      if (Object.keys(admitted).length < limit) continue;
      const stale = await this.staleAdmissions(admitted, at);
      if (stale.length === 0) return { admitted: false, active: Object.keys(admitted).length };
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: key,
          UpdateExpression: `REMOVE ${stale.map((_, i) => `jobs.#s${i}`).join(', ')}`,
          ExpressionAttributeNames: Object.fromEntries(stale.map((id, i) => [`#s${i}`, id])),
        }),
      );
    }
    return { admitted: false, active: limit };
  }

  async withdraw(owner: string, jobId: string): Promise<void> {
    await conditionally(
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: ownerPk(owner), sk: ADMITTED_SK },
          UpdateExpression: 'REMOVE jobs.#id',
          ConditionExpression: 'attribute_exists(jobs)',
          ExpressionAttributeNames: { '#id': jobId },
        }),
      ),
    );
  }

  /** Admitted jobs that ended, or that were never created and are past their grace. */
  private async staleAdmissions(admitted: Record<string, number>, at: number): Promise<string[]> {
    const ids = Object.keys(admitted);
    const found = new Map<string, JobRecord>();
    for (let i = 0; i < ids.length; i += 100) {
      for (const job of await this.jobsByKey(
        ids.slice(i, i + 100).map((id) => ({ pk: jobPk(id), sk: JOB_SK })),
      )) {
        found.set(job.job_id, job);
      }
    }
    return ids.filter((id) => isStaleAdmission(found.get(id), admitted[id] ?? 0, at));
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

  async setCurrent(jobId: string, current: CurrentProgress): Promise<void> {
    // Only while the job runs (PROGRESS_STATUS): once it has ended, live progress no longer matters.
    await conditionally(
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: jobPk(jobId), sk: JOB_SK },
          UpdateExpression: 'SET #current = :current',
          ConditionExpression: '#status = :running',
          ExpressionAttributeNames: { '#current': 'current', '#status': 'status' },
          ExpressionAttributeValues: { ':current': current, ':running': PROGRESS_STATUS },
        }),
      ),
    );
  }

  async setContactSheet(jobId: string, sheet: ContactSheet): Promise<void> {
    await this.db.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { pk: jobPk(jobId), sk: JOB_SK },
        UpdateExpression: 'SET contact_sheet = :sheet',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':sheet': sheet },
      }),
    );
  }

  async addNote(jobId: string, note: string): Promise<void> {
    const { Attributes } = await this.db.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { pk: jobPk(jobId), sk: JOB_SK },
        UpdateExpression: 'SET notes = list_append(if_not_exists(notes, :empty), :note)',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':empty': [], ':note': [note] },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    const drop = notesToDrop(((Attributes?.notes as string[] | undefined) ?? []).length);
    if (drop > 0) {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: jobPk(jobId), sk: JOB_SK },
          UpdateExpression: `REMOVE ${Array.from({ length: drop }, (_, i) => `notes[${i}]`).join(', ')}`,
        }),
      );
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
    await conditionally(
      this.db.send(
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
      ),
    );
  }

  async recordAttempt(jobId: string, iteration: number, hostId?: string): Promise<number> {
    const onHost = hostId !== undefined;
    const add = () =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: jobPk(jobId), sk: JOB_SK },
          UpdateExpression: `SET attempts.#i = if_not_exists(attempts.#i, :zero) + :one${
            onHost ? ', failed_on.#i = list_append(if_not_exists(failed_on.#i, :none), :host)' : ''
          }`,
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeNames: { '#i': String(iteration) },
          ExpressionAttributeValues: {
            ':zero': 0,
            ':one': 1,
            ...(onHost ? { ':none': [], ':host': [hostId] } : {}),
          },
          ReturnValues: 'UPDATED_NEW',
        }),
      );
    let answer: Awaited<ReturnType<typeof add>>;
    try {
      answer = await add();
    } catch (error) {
      if ((error as Error).name !== 'ValidationException') throw error;
      // A job stored before jobs carried the maps: give it them, then count.
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: jobPk(jobId), sk: JOB_SK },
          UpdateExpression:
            'SET attempts = if_not_exists(attempts, :empty), failed_on = if_not_exists(failed_on, :empty)',
          ExpressionAttributeValues: { ':empty': {} },
        }),
      );
      answer = await add();
    }
    return Number(
      (answer.Attributes?.attempts as Record<string, number> | undefined)?.[String(iteration)] ?? 1,
    );
  }

  async markStealing(jobId: string): Promise<void> {
    await this.db.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { pk: jobPk(jobId), sk: JOB_SK },
        UpdateExpression: 'SET stealing = :yes',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':yes': true },
      }),
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
