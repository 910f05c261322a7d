import { describe, expect, it } from 'vitest';
import { ACTIVE_STATUSES, isTerminal, planTransition, sourcesOf } from '../../../core/job-status.ts';

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
