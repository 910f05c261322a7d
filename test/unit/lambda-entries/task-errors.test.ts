import { beforeAll, describe, expect, it } from 'vitest';
import { NoSlotAvailableError, RunPausedError, SdWebUiUnavailableError } from '../../../core/errors.ts';
import { DIMENSION, METRIC, MemoryMetrics } from '../../../core/metrics.ts';
import type { lambdaTask as LambdaTask } from '../../../lambdas/entry/worker-runtime.ts';

let lambdaTask: typeof LambdaTask;
// The entry's logger reads its level at import: the failures these tests throw stay out of the output.
beforeAll(async () => {
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
  ({ lambdaTask } = await import('../../../lambdas/entry/worker-runtime.ts'));
});

const failing = (error: Error) => async () => {
  throw error;
};

describe('a task Lambda counts its failures (TaskErrors), not its hand-offs to the state machine', () => {
  it('counts an error by state and rethrows it untouched for Retry and Catch', async () => {
    const metrics = new MemoryMetrics();
    const error = new SdWebUiUnavailableError('host down');
    await expect(lambdaTask('Generate images', failing(error), metrics)({})).rejects.toBe(error);
    expect(metrics.points).toEqual([
      {
        name: METRIC.taskErrors,
        unit: 'Count',
        value: 1,
        dimensions: { [DIMENSION.state]: 'Generate images' },
      },
    ]);
  });

  it('does not count a wait for a slot or a pause near the time-out', async () => {
    const metrics = new MemoryMetrics();
    for (const error of [new NoSlotAvailableError('every slot busy'), new RunPausedError('out of time')]) {
      await expect(lambdaTask('Generate images', failing(error), metrics)({})).rejects.toBe(error);
    }
    await lambdaTask('Finalize job', async () => ({ status: 'completed' }), metrics)({});
    expect(metrics.points).toEqual([]);
  });
});
