import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { readSecretString, type SecretReader } from '../../adapters/secrets.ts';
import { SfnTaskCallbacks } from '../../adapters/sfn-task-callbacks.ts';
import type { TaskStateName } from '../../workflow/definition.ts';
import {
  createWorkerDeps,
  type ImageAdapters,
  poolHosts,
  taskHandlers,
  type WorkerDeps,
} from '../composition.ts';
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
): Promise<WorkerDeps> {
  const config = loadWorkerConfig(env);
  const authSecretArn = config[ENV.sdWebUiAuthSecretArn];
  const headers = authSecretArn ? sdHostHeaders(await readSecret(authSecretArn)) : undefined;
  return createWorkerDeps({
    tableName: config[ENV.tableName],
    bucketName: config[ENV.bucketName],
    // One secret authenticates every host of the pool (they share --api-auth or a tunnel policy).
    sdHosts: poolHosts(config[ENV.sdWebUiUrl], {
      headers,
      depth: config[ENV.hostDepth],
      requestLimits: config[ENV.hostRequestLimitSeconds],
    }),
    // Lambda gives every function its role's credentials and region in the environment.
    callbacks: new SfnTaskCallbacks({
      region: env.AWS_REGION ?? '',
      credentials: {
        accessKeyId: env.AWS_ACCESS_KEY_ID ?? '',
        secretAccessKey: env.AWS_SECRET_ACCESS_KEY ?? '',
        sessionToken: env.AWS_SESSION_TOKEN,
      },
    }),
  });
}

type Task<T> = (event: unknown, context?: Context) => Promise<T>;

/** What Step Functions sends a task: identifiers, plus the caught error for a failed run. */
interface TaskEvent {
  job_id?: unknown;
  runner?: unknown;
  error?: { Error?: unknown };
}

/**
 * A task handler as a Lambda handler: every log line of the invocation carries the state, job id
 * and runner. Errors are rethrown untouched: their `name` is what the Retry and Catch match.
 */
export function lambdaTask<T>(state: TaskStateName, task: Task<T>) {
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
  return lambdaTask(state, taskHandlers(await workerDepsFromEnv(process.env), images)[state]);
}
