import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ContactSheet, CurrentProgress, IterationRecord, JobRecord } from '../core/job.ts';
import type { JobStatus } from '../core/job-status.ts';
import type { PoolOutage } from '../core/pool/outage.ts';
import type { Admission, ClientTokenClaim, JobListQuery, JobPage, JobStore } from '../core/ports.ts';
import { DynamoDbIterationLedger } from './dynamodb-iteration-ledger.ts';
import { DynamoDbJobRecords } from './dynamodb-job-records.ts';
import { DynamoDbOwnerIndex } from './dynamodb-owner-index.ts';

/**
 * The three job ports on one DynamoDB table (JOBS_TABLE), as the composition roots wire them:
 * each port's adapter in its own file, this one only hands each call to it.
 */
export class DynamoDbJobStore implements JobStore {
  private readonly records: DynamoDbJobRecords;
  private readonly ledger: DynamoDbIterationLedger;
  private readonly owners: DynamoDbOwnerIndex;

  constructor(db: DynamoDBDocumentClient, tableName: string) {
    this.owners = new DynamoDbOwnerIndex(db, tableName);
    this.records = new DynamoDbJobRecords(db, tableName, this.owners);
    this.ledger = new DynamoDbIterationLedger(db, tableName);
  }

  create(job: JobRecord): Promise<boolean> {
    return this.records.create(job);
  }
  get(jobId: string): Promise<JobRecord | undefined> {
    return this.records.get(jobId);
  }
  transition(jobId: string, from: JobStatus[], to: JobStatus, at: string): Promise<boolean> {
    return this.records.transition(jobId, from, to, at);
  }
  setCurrent(jobId: string, current: CurrentProgress): Promise<void> {
    return this.records.setCurrent(jobId, current);
  }
  setContactSheet(jobId: string, sheet: ContactSheet): Promise<void> {
    return this.records.setContactSheet(jobId, sheet);
  }
  addNote(jobId: string, note: string): Promise<void> {
    return this.records.addNote(jobId, note);
  }
  recordAttempt(jobId: string, iteration: number, hostId?: string, outage?: PoolOutage): Promise<number> {
    return this.records.recordAttempt(jobId, iteration, hostId, outage);
  }
  markStealing(jobId: string): Promise<void> {
    return this.records.markStealing(jobId);
  }
  getIteration(jobId: string, iteration: number): Promise<IterationRecord | undefined> {
    return this.ledger.getIteration(jobId, iteration);
  }
  recordIteration(record: IterationRecord, expiresAt: number): Promise<void> {
    return this.ledger.recordIteration(record, expiresAt);
  }
  listIterations(jobId: string): Promise<IterationRecord[]> {
    return this.ledger.listIterations(jobId);
  }
  listByOwner(owner: string, query: JobListQuery): Promise<JobPage> {
    return this.owners.listByOwner(owner, query);
  }
  countActive(owner: string): Promise<number> {
    return this.owners.countActive(owner);
  }
  admit(owner: string, jobId: string, limit: number, at: number): Promise<Admission> {
    return this.owners.admit(owner, jobId, limit, at);
  }
  withdraw(owner: string, jobId: string): Promise<void> {
    return this.owners.withdraw(owner, jobId);
  }
  claimClientToken(claim: ClientTokenClaim): Promise<ClientTokenClaim> {
    return this.owners.claimClientToken(claim);
  }
}
