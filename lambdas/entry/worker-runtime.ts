import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { PowertoolsMetrics } from '../../adapters/powertools-metrics.ts';
import { readSecretString, type SecretReader } from '../../adapters/secrets.ts';
import { NoSlotAvailableError, RunPausedError } from '../../core/errors.ts';
import { DIMENSION, METRIC, type Metrics, NO_METRICS } from '../../core/metrics.ts';
import type { TaskStateName } from '../../workflow/definition.ts';
import { type ImageAdapters, taskHandlers, type WorkerDeps } from '../composition.ts';
import { lambdaWorkerDeps } from '../composition-lambda.ts';
import { ENV, loadWorkerConfig } from '../config/env.ts';
import { sdHostHeaders } from '../config/sd-host-auth.ts';

const logger = new Logger({ serviceName: 'sdbatch' });

/**
 * The workers' dependencies from the Lambda environment. Runs at cold start (top-level await in
 * each entry), so a missing variable or an unreadable secret fails the init with its name.
 */
export async function workerDepsFromEnv(
  env: Record<string, string | undefined>,
  readSecret: SecretReader = readSecretString,
  metrics: Metrics = new PowertoolsMetrics(),
): Promise<WorkerDeps> {
  const config = loadWorkerConfig(env);
  const authSecretArn = config[ENV.sdWebUiAuthSecretArn];
  const headers = authSecretArn ? sdHostHeaders(await readSecret(authSecretArn)) : undefined;
  return lambdaWorkerDeps(config, headers, env, { metrics });
}

type Task<T> = (event: unknown, context?: Context) => Promise<T>;

/** What Step Functions sends a task: identifiers, plus the caught error for a failed run. */
interface TaskEvent {
  job_id?: unknown;
  runner?: unknown;
  error?: { Error?: unknown };
}

/** What a generate task throws to hand its wait to the state machine: the workflow going on, not a failure. */
const isHandOff = (error: unknown) =>
  error instanceof NoSlotAvailableError || error instanceof RunPausedError;

/**
 * A task handler as a Lambda handler: every log line of the invocation carries the state, job id
 * and runner. Errors are rethrown untouched: their `name` is what the Retry and Catch match; those
 * that are failures are counted (METRIC.taskErrors).
 */
export function lambdaTask<T>(state: TaskStateName, task: Task<T>, metrics: Metrics = NO_METRICS) {
  return async (event: unknown, context?: Context): Promise<T> => {
    if (context) logger.addContext(context);
    const { job_id, runner, error } = (event ?? {}) as TaskEvent;
    logger.appendKeys({ state, job_id, runner });
    try {
      if (error) logger.warn('recording failed iterations', { failure: error.Error });
      const result = await task(event, context);
      logger.info('task done', { result });
      return result;
    } catch (failure) {
      logger.error('task failed', failure as Error);
      if (!isHandOff(failure)) metrics.add(METRIC.taskErrors, 'Count', 1, { [DIMENSION.state]: state });
      throw failure;
    } finally {
      logger.resetKeys();
    }
  };
}

/**
 * A Task state's Lambda handler, its dependencies read from the environment. Each entry awaits
 * it at the top level, so configuration, clients and secrets load once per container, at cold
 * start, where a bad setting fails by name.
 */
export async function lambdaTaskFromEnv(state: TaskStateName, images?: Partial<ImageAdapters>) {
  const deps = await workerDepsFromEnv(process.env);
  return lambdaTask(state, taskHandlers(deps, images)[state], deps.metrics);
}
