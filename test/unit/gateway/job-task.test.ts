import { describe, expect, it } from 'vitest';
import type { JobRecord, JobStatus } from '../../../core/job.ts';
import { toStatusView } from '../../../core/status-view.ts';
import { startedJobOf, startedTaskOptions } from '../../../mcp-gateway/started-job.ts';
import {
  isJobId,
  isTaskAugmented,
  taskStatusOf,
  toLegacyTask,
  toTask,
} from '../../../mcp-gateway/tasks/job-task.ts';
import { generationParams, jobRecord } from '../../support/job-fixtures.ts';

const NOW = new Date('2026-11-24T10:02:20.000Z');

const running: JobRecord = jobRecord({
  created_at: '2026-11-24T10:00:00.250Z',
  started_at: '2026-11-24T10:00:05.000Z',
  params: generationParams({ batch_size: 4, n_iter: 3 }),
  total_images: 12,
  completed_images: 4,
  current: { iteration: 1, step: 7, steps: 20, updated_at: '2026-11-24T10:02:19.000Z' },
  // Seven days after 10:00:00 (whole seconds, as the planner writes it).
  expires_at: Date.parse('2026-12-01T10:00:00.000Z') / 1000,
});

const ended = (status: JobStatus, completed: number, failed = 0): JobRecord => ({
  ...running,
  status,
  completed_images: completed,
  failed_images: failed,
  finished_at: '2026-11-24T10:03:00.000Z',
});

describe('task status of a job', () => {
  it.each([
    ['pending', 'working'],
    ['running', 'working'],
    ['completed', 'completed'],
    ['partial', 'completed'],
    ['failed', 'failed'],
    ['cancelled', 'cancelled'],
  ] as const)('%s reads %s', (job, task) => expect(taskStatusOf(job)).toBe(task));
});

describe('a job as a task', () => {
  it('is the job: its id, its progress, its retention and the poll hint of sdreforge_batch_status', () => {
    const task = toTask(running, NOW);
    expect(task).toEqual({
      taskId: 'job_20261124_abcdefghij',
      status: 'working',
      ttlMs: Date.parse('2026-12-01T10:00:00.000Z') - Date.parse('2026-11-24T10:00:00.250Z'),
      createdAt: '2026-11-24T10:00:00.250Z',
      lastUpdatedAt: '2026-11-24T10:02:19.000Z',
      pollIntervalMs: (toStatusView(running, NOW).poll_after_seconds as number) * 1000,
      statusMessage: `4/12 images completed, ETA ${toStatusView(running, NOW).estimated_remaining}`,
    });
    expect(task.pollIntervalMs).toBeGreaterThan(0);
    expect(task.statusMessage).toMatch(/^4\/12 images completed, ETA \d+(m \d+)?s$/);
  });

  it('says a job waiting to start is pending, last changed when created', () => {
    const pending: JobRecord = {
      ...running,
      status: 'pending',
      started_at: undefined,
      current: undefined,
      completed_images: 0,
      estimated_seconds: 600,
    };
    expect(toTask(pending, NOW)).toMatchObject({
      status: 'working',
      statusMessage: expect.stringMatching(/^pending: 0\/12 images completed, ETA /),
      lastUpdatedAt: '2026-11-24T10:00:00.250Z',
    });
  });

  it('says what a job waits for in place of an ETA, as status does: a failing host, or its first images', () => {
    const outage = {
      since: Date.parse('2026-11-24T10:01:00.000Z'),
      hosts: [
        { host_id: 'gpu:7860', failing_since: Date.parse('2026-11-24T10:01:00.000Z'), last_error: 'refused' },
      ],
    };
    expect(toTask({ ...running, outage }, NOW).statusMessage).toBe(
      '4/12 images completed, waiting for a GPU host: gpu:7860 failing since 10:01:00Z (1m 20s), last error: refused',
    );
    const late = { ...running, completed_images: 0, estimated_seconds: 60 };
    expect(toTask(late, NOW).statusMessage).toBe(
      '0/12 images completed, waiting for the first images, which take longer than estimated',
    );
    expect(toStatusView(late, NOW)).toMatchObject({
      estimated_remaining: 'waiting for the first images, which take longer than estimated',
      estimated_remaining_seconds: null,
    });
  });

  it('has no poll interval once the job ended, and was last changed when it finished', () => {
    const task = toTask(ended('completed', 12), NOW);
    expect(task).toMatchObject({
      status: 'completed',
      statusMessage: '12/12 images completed',
      lastUpdatedAt: '2026-11-24T10:03:00.000Z',
    });
    expect(task).not.toHaveProperty('pollIntervalMs');
  });

  it('names the job status where the task status hides it', () => {
    expect(toTask(ended('partial', 10, 2), NOW)).toMatchObject({
      status: 'completed',
      statusMessage: 'partial: 10/12 images completed, 2 failed',
    });
    expect(toTask(ended('failed', 0, 12), NOW).statusMessage).toBe(
      'failed: 0/12 images completed, 12 failed',
    );
    expect(toTask(ended('cancelled', 4), NOW)).toMatchObject({
      status: 'cancelled',
      statusMessage: 'cancelled: 4/12 images completed',
    });
  });
});

describe('a job as a 2025-11-25 task', () => {
  it('is the same task with ttl and pollInterval for ttlMs and pollIntervalMs', () => {
    const { ttlMs, pollIntervalMs, ...rest } = toTask(running, NOW);
    expect(toLegacyTask(running, NOW)).toEqual({ ...rest, ttl: ttlMs, pollInterval: pollIntervalMs });
  });

  it('has no poll hint once the job has ended', () => {
    const task = toLegacyTask(ended('completed', 12), NOW);
    expect(task).toMatchObject({ status: 'completed', statusMessage: '12/12 images completed' });
    expect(task).not.toHaveProperty('pollInterval');
    expect(task).not.toHaveProperty('pollIntervalMs');
  });
});

describe('task ids', () => {
  it('are job ids', () => {
    expect(isJobId('job_20261124_abcdefghij')).toBe(true);
    for (const id of [
      '',
      'job_20261124_ABCDEFGHIJ',
      'job_20261124_abcdefghij ',
      '../job',
      'x'.repeat(5000),
    ]) {
      expect(isJobId(id), id).toBe(false);
    }
  });
});

describe('2025-11-25 task requests', () => {
  it('asks for a task only with params.task', () => {
    expect(isTaskAugmented({ method: 'tools/call', params: { name: 't', task: {} } })).toBe(true);
    expect(isTaskAugmented({ method: 'tools/call', params: { name: 't', task: { ttl: 1000 } } })).toBe(true);
    expect(isTaskAugmented({ method: 'tools/call', params: { name: 't' } })).toBe(false);
    expect(isTaskAugmented({ method: 'tools/call' })).toBe(false);
  });

  it('hands the started job from the start tool to the task store, and nothing else', () => {
    const started = { job: running, answer: { content: [{ type: 'text' as const, text: 'Started' }] } };
    expect(startedJobOf(startedTaskOptions(started))).toBe(started);
    expect(startedJobOf({})).toBeUndefined();
    expect(startedJobOf({ ttl: 1000, context: { other: 1 } })).toBeUndefined();
  });
});
