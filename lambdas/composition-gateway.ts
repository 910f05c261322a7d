import { SFNClient } from '@aws-sdk/client-sfn';
import { PowertoolsMetrics } from '../adapters/powertools-metrics.ts';
import { SfnOrchestrator } from '../adapters/sfn-orchestrator.ts';
import { DEFAULT_CALIBRATION } from '../core/estimate.ts';
import type { PresetCatalog } from '../core/presets/catalog.ts';
import type { AppOptions } from '../mcp-gateway/app.ts';
import { tokenVerifier } from '../mcp-gateway/auth/bearer.ts';
import { oauthVerifier } from '../mcp-gateway/auth/oauth.ts';
import {
  createGatewayDeps,
  createGatewayStores,
  gatewaySettings,
  type ImageAdapters,
} from './composition.ts';
import { ENV, GATEWAY_SETTINGS, type loadGatewayConfig } from './config/env.ts';

/*
 * The gateway function's part of the one composition (the workers' is composition-lambda.ts):
 * apart, so the workers' bundles carry neither the gateway's auth nor its Step Functions client.
 */

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
