import { describe, expect, it } from 'vitest';
import { hasExpired } from '../../../core/job.ts';
import {
  ACTIVE_STATUSES,
  isTerminal,
  type JobStatus,
  planTransition,
  sourcesOf,
} from '../../../core/job-status.ts';

describe('the transition table', () => {
  it('has pending and running active, every other status ended', () => {
    expect(ACTIVE_STATUSES).toEqual(['pending', 'running']);
    expect(['completed', 'partial', 'failed', 'cancelled'].every((s) => isTerminal(s as never))).toBe(true);
  });

  it('lets a job end from either active status, and start only from pending', () => {
    expect(sourcesOf('cancelled')).toEqual(['pending', 'running']);
    expect(sourcesOf('partial')).toEqual(['pending', 'running']);
    expect(sourcesOf('running')).toEqual(['pending']);
    expect(sourcesOf('pending')).toEqual([]);
  });

  it('stamps the start and the end, and refuses a move it does not list', () => {
    const at = '2026-11-24T10:00:00.000Z';
    expect(planTransition(['pending'], 'running', at)).toMatchObject({
      stamps: { started_at: at },
      starts: true,
      ends: false,
    });
    expect(planTransition(['pending', 'running'], 'failed', at)).toMatchObject({
      stamps: { finished_at: at },
      starts: false,
      ends: true,
    });
    expect(() => planTransition(['running'], 'pending', at)).toThrow(/cannot go from running to pending/);
    expect(() => planTransition([], 'cancelled', at)).toThrow(/cannot go from nothing/);
  });
});

describe('expiry', () => {
  const expiresAt = Date.parse('2026-11-24T11:00:00Z') / 1000;
  const after = Date.parse('2026-11-24T11:00:01Z');
  const before = Date.parse('2026-11-24T10:59:59Z');

  it('never comes to a running job, and comes to an ended or never started one once its retention passed', () => {
    const at = (status: JobStatus, now: number) => hasExpired({ status, expires_at: expiresAt }, now);
    expect(at('running', after)).toBe(false);
    for (const status of ['pending', 'completed', 'partial', 'failed', 'cancelled'] as const) {
      expect(at(status, after), status).toBe(true);
      expect(at(status, before), status).toBe(false);
    }
  });

  it('matches the stores’ TTL: lifted when a job starts, set when it ends', () => {
    const at = '2026-11-24T10:00:00.000Z';
    expect(planTransition(['pending'], 'running', at).starts).toBe(true);
    expect(planTransition(['running'], 'completed', at).ends).toBe(true);
  });
});
