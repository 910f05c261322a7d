import type { ClientOptions } from '../adapters/aws-clients.ts';
import { PowertoolsMetrics } from '../adapters/powertools-metrics.ts';
import { SfnTaskCallbacks } from '../adapters/sfn-task-callbacks.ts';
import type { Metrics } from '../core/metrics.ts';
import { createWorkerDeps, poolHosts, type WorkerDeps } from './composition.ts';
import { ENV, type loadWorkerConfig } from './config/env.ts';

/*
 * The worker functions' part of the one composition (the gateway's is composition-gateway.ts):
 * AWS's own clients (Step Functions) and the adapters built from a function's checked
 * configuration. The entries only read the environment and secrets.
 */

/**
 * A worker function's dependencies; Lambda gives it its role's credentials and region in `env`.
 * `clients` points the stores elsewhere (the bench's memory probe); in Lambda the SDK's defaults apply.
 */
export function lambdaWorkerDeps(
  config: ReturnType<typeof loadWorkerConfig>,
  hostHeaders: Record<string, string> | undefined,
  env: Record<string, string | undefined>,
  options: { metrics?: Metrics; clients?: ClientOptions } = {},
): WorkerDeps {
  return createWorkerDeps({
    clients: options.clients,
    tableName: config[ENV.tableName],
    bucketName: config[ENV.bucketName],
    // One secret authenticates every host of the pool (they share --api-auth or a tunnel policy).
    sdHosts: poolHosts(config[ENV.sdWebUiUrl], {
      headers: hostHeaders,
      depth: config[ENV.hostDepth],
      requestLimits: config[ENV.hostRequestLimitSeconds],
    }),
    callbacks: new SfnTaskCallbacks({
      region: env.AWS_REGION ?? '',
      credentials: {
        accessKeyId: env.AWS_ACCESS_KEY_ID ?? '',
        secretAccessKey: env.AWS_SECRET_ACCESS_KEY ?? '',
        sessionToken: env.AWS_SESSION_TOKEN,
      },
    }),
    metrics: options.metrics ?? new PowertoolsMetrics(),
  });
}
