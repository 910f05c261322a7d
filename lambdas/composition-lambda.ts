import { SFNClient } from '@aws-sdk/client-sfn';
import { PowertoolsMetrics } from '../adapters/powertools-metrics.ts';
import { SfnOrchestrator } from '../adapters/sfn-orchestrator.ts';
import { SfnTaskCallbacks } from '../adapters/sfn-task-callbacks.ts';
import { DEFAULT_CALIBRATION } from '../core/estimate.ts';
import type { Metrics } from '../core/metrics.ts';
import type { PresetCatalog } from '../core/presets/catalog.ts';
import type { AppOptions } from '../mcp-gateway/app.ts';
import { tokenVerifier } from '../mcp-gateway/auth/bearer.ts';
import { oauthVerifier } from '../mcp-gateway/auth/oauth.ts';
import {
  createGatewayDeps,
  createGatewayStores,
  createWorkerDeps,
  gatewaySettings,
  type ImageAdapters,
  poolHosts,
  type WorkerDeps,
} from './composition.ts';
import { ENV, GATEWAY_SETTINGS, type loadGatewayConfig, type loadWorkerConfig } from './config/env.ts';

/*
 * The Lambda functions' part of the one composition: AWS's own clients (Step Functions) and the
 * adapters built from a function's checked configuration. The entries only read the environment
 * and secrets.
 */

/** A worker function's dependencies; Lambda gives it its role's credentials and region in `env`. */
export function lambdaWorkerDeps(
  config: ReturnType<typeof loadWorkerConfig>,
  hostHeaders: Record<string, string> | undefined,
  env: Record<string, string | undefined>,
  metrics: Metrics = new PowertoolsMetrics(),
): WorkerDeps {
  return createWorkerDeps({
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
    metrics,
  });
}

/**
 * The gateway function's app options: its stores, Step Functions, the token and OAuth checks.
 * The image adapters (sharp) come from its entry, so the workers' bundles, which import this
 * module too, do not carry sharp.
 */
export function lambdaGatewayOptions(
  config: ReturnType<typeof loadGatewayConfig>,
  token: string,
  presets: PresetCatalog,
  images: ImageAdapters,
): AppOptions {
  const { tokens, ...stores } = createGatewayStores({
    tableName: config[ENV.tableName],
    bucketName: config[ENV.bucketName],
  });
  const issuer = config[ENV.oauthIssuer];
  const oauthSettings = issuer && {
    issuer,
    jwksUrl: config[ENV.oauthJwksUrl],
    audience: config[ENV.oauthAudience],
    clientIds: config[ENV.oauthClientIds],
    requiredScope: config[ENV.oauthScope],
  };
  const shared = GATEWAY_SETTINGS.pick(config);
  const settings = gatewaySettings({
    ...shared,
    concurrency: config[ENV.concurrency],
    workersReachInternet: config[ENV.workersReachInternet],
    calibration: { ...DEFAULT_CALIBRATION, secondsPerStep: shared.secondsPerStep },
  });
  return {
    tokens,
    oauth: oauthSettings ? { settings: oauthSettings, verify: oauthVerifier(oauthSettings) } : undefined,
    deps: createGatewayDeps(
      stores,
      new SfnOrchestrator(new SFNClient({}), config[ENV.stateMachineArn]),
      presets,
      settings,
      images,
      new PowertoolsMetrics(),
    ),
    verifyToken: tokenVerifier(token, tokens),
    // No Origin allow-list: browsers never hold the token, and every request must carry it.
  };
}
