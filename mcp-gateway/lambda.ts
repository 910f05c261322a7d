import { fileURLToPath } from 'node:url';
import { Logger } from '@aws-lambda-powertools/logger';
import { SFNClient } from '@aws-sdk/client-sfn';
import type { Context, LambdaFunctionURLEvent } from 'aws-lambda';
import { handle, type LambdaEvent } from 'hono/aws-lambda';
import { PowertoolsMetrics } from '../adapters/powertools-metrics.ts';
import { loadPresetCatalog } from '../adapters/preset-files.ts';
import { readSecretString } from '../adapters/secrets.ts';
import { SfnOrchestrator } from '../adapters/sfn-orchestrator.ts';
import { renderContactSheet } from '../adapters/sharp-contact-sheet.ts';
import { shrinkToJpeg } from '../adapters/sharp-shrink.ts';
import { DEFAULT_CALIBRATION } from '../core/estimate.ts';
import { createGatewayDeps, createGatewayStores, gatewaySettings } from '../lambdas/composition.ts';
import { ENV, GATEWAY_SETTINGS, loadGatewayConfig } from '../lambdas/config/env.ts';
import { type AppOptions, createApp } from './app.ts';
import { tokenVerifier } from './auth/bearer.ts';
import { oauthVerifier } from './auth/oauth.ts';

const logger = new Logger({ serviceName: 'sdbatch-gateway' });

/** A Function URL event: API Gateway's HTTP API payload format 2.0. */
export type FunctionUrlEvent = LambdaFunctionURLEvent;

/** The gateway behind a Function URL (payload format 2.0), for any deps: tests pass fakes. */
export function createLambdaHandler(options: AppOptions) {
  const handleEvent = handle(createApp(options));
  return async (event: FunctionUrlEvent, context?: Context) => {
    if (context) logger.addContext(context);
    // Hono's v2 event type insists on fields a Function URL omits (authorizer, a null body);
    // its v2 processor reads only those a Function URL sends.
    const response = await handleEvent(
      event as unknown as Extract<LambdaEvent, { rawPath: string }>,
      context,
    );
    // Method, path and status only: headers carry the bearer token, bodies carry prompts.
    logger.info('request', {
      method: event.requestContext.http.method,
      path: event.rawPath,
      status: response.statusCode,
    });
    return response;
  };
}

/** The real stores, Step Functions and the token secret, from the Lambda environment. */
export async function gatewayOptionsFromEnv(env: Record<string, string | undefined>): Promise<AppOptions> {
  const config = loadGatewayConfig(env);
  // Read once per container: a rotated token reaches new containers (or all, after a redeploy).
  const token = (await readSecretString(config[ENV.tokenSecretArn])).trim();
  if (token.length < 16) throw new Error(`The token secret ${config[ENV.tokenSecretArn]} is too short`);
  // The CDK bundle carries the presets beside index.mjs; the variable points elsewhere in tests.
  const presets = await loadPresetCatalog(
    config[ENV.presetsDir] ?? fileURLToPath(new URL('./presets', import.meta.url)),
  );
  for (const problem of presets.problems) logger.warn('preset skipped', { ...problem });
  const { tokens, ...stores } = createGatewayStores({
    tableName: config[ENV.tableName],
    bucketName: config[ENV.bucketName],
  });
  const issuer = config[ENV.oauthIssuer];
  const oauth = issuer
    ? (() => {
        const settings = {
          issuer,
          jwksUrl: config[ENV.oauthJwksUrl],
          audience: config[ENV.oauthAudience],
          clientIds: config[ENV.oauthClientIds],
          requiredScope: config[ENV.oauthScope],
        };
        return { settings, verify: oauthVerifier(settings) };
      })()
    : undefined;
  const shared = GATEWAY_SETTINGS.pick(config);
  const settings = gatewaySettings({
    ...shared,
    concurrency: config[ENV.concurrency],
    workersReachInternet: config[ENV.workersReachInternet],
    calibration: { ...DEFAULT_CALIBRATION, secondsPerStep: shared.secondsPerStep },
  });
  const orchestrator = new SfnOrchestrator(new SFNClient({}), config[ENV.stateMachineArn]);
  return {
    tokens,
    oauth,
    deps: createGatewayDeps(
      stores,
      orchestrator,
      presets,
      settings,
      { renderContactSheet, shrinkImage: shrinkToJpeg },
      new PowertoolsMetrics(),
    ),
    verifyToken: tokenVerifier(token, tokens),
    // No Origin allow-list: browsers never hold the token, and every request must carry it.
  };
}

// Cold start: config, clients and the token once per container; a bad setting fails here.
export const handler = createLambdaHandler(await gatewayOptionsFromEnv(process.env));
