import { type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { type ContactSheet, type CurrentProgress, expiryFrom, JobRecord, notesToDrop } from '../core/job.ts';
import { isActive, type JobStatus, PROGRESS_STATUS, planTransition } from '../core/job-status.ts';
import type { PoolOutage } from '../core/pool/outage.ts';
import type { JobRecords, OwnerIndex } from '../core/ports.ts';
import { conditionally, wrote } from './conditional-write.ts';
import { JOB_SK, jobPk, ownerPk } from './jobs-table.ts';
import { TableAdapter } from './table-adapter.ts';

/** The job item of the jobs table (see JOBS_TABLE): every change a conditional write. */
export class DynamoDbJobRecords extends TableAdapter implements JobRecords {
  private readonly owners: Pick<OwnerIndex, 'withdraw'>;

  /** `owners`: where an ended job leaves its owner's admitted jobs. */
  constructor(db: DynamoDBDocumentClient, tableName: string, owners: Pick<OwnerIndex, 'withdraw'>) {
    super(db, tableName);
    this.owners = owners;
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
      await this.owners.withdraw(ended.owner, jobId);
    }
    return moved !== undefined;
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
    await this.setOnJob(jobId, 'contact_sheet', sheet);
  }

  /** Sets one attribute of a job that exists (a job that does not throws, as a failed condition). */
  private async setOnJob(jobId: string, name: 'contact_sheet' | 'stealing', value: unknown): Promise<void> {
    await this.db.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { pk: jobPk(jobId), sk: JOB_SK },
        UpdateExpression: `SET ${name} = :value`,
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':value': value },
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

  async recordAttempt(
    jobId: string,
    iteration: number,
    hostId?: string,
    outage?: PoolOutage,
  ): Promise<number> {
    const onHost = hostId !== undefined;
    const add = () =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: jobPk(jobId), sk: JOB_SK },
          UpdateExpression: `SET attempts.#i = if_not_exists(attempts.#i, :zero) + :one${
            onHost ? ', failed_on.#i = list_append(if_not_exists(failed_on.#i, :none), :host)' : ''
          }${outage ? ', outage = :outage' : ' REMOVE outage'}`,
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeNames: { '#i': String(iteration) },
          ExpressionAttributeValues: {
            ':zero': 0,
            ':one': 1,
            ...(onHost ? { ':none': [], ':host': [hostId] } : {}),
            ...(outage ? { ':outage': outage } : {}),
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
    await this.setOnJob(jobId, 'stealing', true);
  }
}
