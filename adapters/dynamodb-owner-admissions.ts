import { GetCommand, PutCommand, paginateQuery, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { isStaleAdmission } from '../core/admission.ts';
import type { JobStatus } from '../core/job-status.ts';
import type { Admission } from '../core/ports.ts';
import { wrote } from './conditional-write.ts';
import { ADMISSION_SK_PREFIX, ADMITTED_SK, admissionSk, ownerPk } from './jobs-table.ts';
import { TableAdapter } from './table-adapter.ts';

/** A withdrawn admission's marker outlives its job's end this long, for a start retried late. */
const WITHDRAWN_TTL_SECONDS = 86_400;

/** What the admissions need to know of the owner's jobs: which are active, and their status. */
export interface OwnerJobs {
  activeJobIds(owner: string): Promise<string[]>;
  statuses(jobIds: string[]): Promise<Map<string, JobStatus>>;
}

/**
 * The per-caller limit on active jobs, kept as a counter plus one small marker item per admitted
 * job. An admission or a withdrawal writes two items of a few dozen bytes whatever the caller
 * has running, so a thousand queued jobs cost what one does (a list of them in one item would be
 * rewritten whole, at a write unit per KB, on every start and end).
 *
 * The marker is written first, so a start retried with its client_token finds it and takes no
 * more room, and the counter's conditional ADD is what concurrent starts cannot all pass. A
 * counter that drifted (a crash between the two writes, a withdrawal lost) is recounted from the
 * markers when it reaches the limit, with ended and never-created jobs cleared (isStaleAdmission).
 */
export class DynamoDbOwnerAdmissions extends TableAdapter {
  async admit(owner: string, jobId: string, limit: number, at: number, jobs: OwnerJobs): Promise<Admission> {
    const pk = ownerPk(owner);
    const fresh = await wrote(
      this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { pk, sk: admissionSk(jobId), at },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      ),
    );
    if (!fresh) return { admitted: true };
    // Three rounds at most: a first counter made, a counter recounted, or another start's race.
    for (let round = 0; round < 3; round++) {
      const counted = await wrote(
        this.db.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: { pk, sk: ADMITTED_SK },
            UpdateExpression: 'ADD active :one',
            ConditionExpression: 'attribute_exists(active) AND active < :limit',
            ExpressionAttributeValues: { ':one': 1, ':limit': limit },
          }),
        ),
      );
      if (counted) return { admitted: true };
      const { Item } = await this.db.send(
        new GetCommand({ TableName: this.tableName, Key: { pk, sk: ADMITTED_SK }, ConsistentRead: true }),
      );
      const active = typeof Item?.active === 'number' ? Item.active : undefined;
      if (active === undefined) {
        await this.startCounter(owner, at, jobs);
        continue;
      }
      if (active < limit) continue;
      const recounted = await this.recount(owner, jobId, active, at, jobs);
      if (recounted >= active) {
        await this.withdrawMarker(pk, jobId, at);
        return { admitted: false, active };
      }
    }
    await this.withdrawMarker(pk, jobId, at);
    return { admitted: false, active: limit };
  }

  async withdraw(owner: string, jobId: string, at: number): Promise<void> {
    const pk = ownerPk(owner);
    // Only the withdrawal that ends the marker gives its room back: a second one changes nothing.
    if (!(await this.withdrawMarker(pk, jobId, at))) return;
    await wrote(
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk, sk: ADMITTED_SK },
          UpdateExpression: 'ADD active :less',
          ConditionExpression: 'active > :zero',
          ExpressionAttributeValues: { ':less': -1, ':zero': 0 },
        }),
      ),
    );
  }

  /** Marks an admission withdrawn (no DeleteItem: the roles may delete nothing here); true when it was live. */
  private withdrawMarker(pk: string, jobId: string, at: number): Promise<boolean> {
    return wrote(
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk, sk: admissionSk(jobId) },
          UpdateExpression: 'SET withdrawn = :at, #ttl = :ttl',
          ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(withdrawn)',
          ExpressionAttributeNames: { '#ttl': 'ttl' },
          ExpressionAttributeValues: { ':at': at, ':ttl': Math.floor(at / 1000) + WITHDRAWN_TTL_SECONDS },
        }),
      ),
    );
  }

  /**
   * The owner's first start since admissions were counted: the count starts from the jobs the
   * active index holds (each given a marker, so a recount finds them), so jobs started before count.
   */
  private async startCounter(owner: string, at: number, jobs: OwnerJobs): Promise<void> {
    const pk = ownerPk(owner);
    const ids = await jobs.activeJobIds(owner);
    for (const id of ids) {
      await wrote(
        this.db.send(
          new PutCommand({
            TableName: this.tableName,
            Item: { pk, sk: admissionSk(id), at },
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        ),
      );
    }
    await wrote(
      this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { pk, sk: ADMITTED_SK, active: ids.length },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      ),
    );
  }

  /**
   * A full counter counted again from the live markers, stale ones withdrawn; the count is set
   * only if no start or end moved it meanwhile. Returns the recount (the asking job left out).
   */
  private async recount(owner: string, asking: string, seen: number, at: number, jobs: OwnerJobs) {
    const pk = ownerPk(owner);
    const live: Array<{ jobId: string; at: number }> = [];
    const pages = paginateQuery(
      { client: this.db },
      {
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :marker)',
        FilterExpression: 'attribute_not_exists(withdrawn)',
        ExpressionAttributeValues: { ':pk': pk, ':marker': ADMISSION_SK_PREFIX },
        ConsistentRead: true,
      },
    );
    for await (const page of pages) {
      for (const item of page.Items ?? []) {
        const jobId = String(item.sk).slice(ADMISSION_SK_PREFIX.length);
        if (jobId !== asking) live.push({ jobId, at: Number(item.at) });
      }
    }
    const statuses = await jobs.statuses(live.map((m) => m.jobId));
    const stale = live.filter((m) => {
      const status = statuses.get(m.jobId);
      return isStaleAdmission(status ? { status } : undefined, m.at, at);
    });
    for (const m of stale) await this.withdrawMarker(pk, m.jobId, at);
    const count = live.length - stale.length;
    if (count < seen) {
      await wrote(
        this.db.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: { pk, sk: ADMITTED_SK },
            UpdateExpression: 'SET active = :count',
            ConditionExpression: 'active = :seen',
            ExpressionAttributeValues: { ':count': count, ':seen': seen },
          }),
        ),
      );
    }
    return count;
  }
}
