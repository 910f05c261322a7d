import { fileURLToPath } from 'node:url';
import { Logger } from '@aws-lambda-powertools/logger';
import { SFNClient } from '@aws-sdk/client-sfn';
import type { Context, LambdaFunctionURLEvent } from 'aws-lambda';
import { handle, type LambdaEvent } from 'hono/aws-lambda';
import { DEFAULT_CALIBRATION } from '../core/estimate.ts';
import { documentClient, s3Client } from '../lambdas/adapters/aws-clients.ts';
import { DynamoDbCheckpointCatalog } from '../lambdas/adapters/dynamodb-checkpoint-catalog.ts';
import { DynamoDbHostPool } from '../lambdas/adapters/dynamodb-host-pool.ts';
import { DynamoDbJobStore } from '../lambdas/adapters/dynamodb-job-store.ts';
import { DynamoDbTokenStore } from '../lambdas/adapters/dynamodb-token-store.ts';
import { GuardedImageFetcher } from '../lambdas/adapters/guarded-fetcher.ts';
import { loadPresetCatalog } from '../lambdas/adapters/preset-files.ts';
import { S3ImageStore } from '../lambdas/adapters/s3-image-store.ts';
import { readSecretString } from '../lambdas/adapters/secrets.ts';
import { SfnOrchestrator } from '../lambdas/adapters/sfn-orchestrator.ts';
import { renderContactSheet } from '../lambdas/adapters/sharp-contact-sheet.ts';
import { shrinkToJpeg } from '../lambdas/adapters/sharp-shrink.ts';
import { ENV, loadGatewayConfig } from '../lambdas/config/env.ts';
import { type AppOptions, createApp } from './app.ts';
import { tokenVerifier } from './auth/bearer.ts';
import { oauthVerifier } from './auth/oauth.ts';
import { coalesceJobReads } from './coalesced-reads.ts';
import { hostRateReaders } from './recent-read.ts';

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
    config[ENV.presetsDir] ?? fileURLToPath(new URL('./presets/', import.meta.url)),
  );
  for (const problem of presets.problems) logger.warn('preset skipped', { ...problem });
  const db = documentClient();
  const tokens = new DynamoDbTokenStore(db, config[ENV.tableName]);
  // Read-only use of the workers' pool records: the hosts' measured rates, for estimates.
  const pool = new DynamoDbHostPool(db, config[ENV.tableName], []);
  const checkpoints = new DynamoDbCheckpointCatalog(db, config[ENV.tableName]);
  // Only its start-time check: the gateway refuses a URL no worker could fetch.
  const fetcher = new GuardedImageFetcher();
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
  return {
    tokens,
    oauth,
    deps: {
      jobs: coalesceJobReads(new DynamoDbJobStore(db, config[ENV.tableName])),
      images: new S3ImageStore(s3Client(), config[ENV.bucketName]),
      orchestrator: new SfnOrchestrator(new SFNClient({}), config[ENV.stateMachineArn]),
      presets,
      renderContactSheet,
      now: () => new Date(),
      ...hostRateReaders(() => pool.hostRates()),
      callsInFlight: (jobId) => pool.callsOf(jobId),
      hostCheckpoints: () => checkpoints.read(),
      checkImageUrl: (url) => fetcher.check(url),
      shrinkImage: shrinkToJpeg,
      settings: {
        concurrency: config[ENV.concurrency],
        hosts: config[ENV.gpuHosts],
        retentionSeconds: config[ENV.retentionDays] * 86_400,
        calibration: { ...DEFAULT_CALIBRATION, secondsPerStep: config[ENV.secondsPerStep] },
        urlTtlSeconds: config[ENV.urlTtlSeconds],
        limits: {
          maxImagesPerJob: config[ENV.maxImagesPerJob],
          maxActiveJobsPerCaller: config[ENV.maxActiveJobs],
          maxPromptChars: config[ENV.maxPromptChars],
          maxRequestBytes: config[ENV.maxRequestBytes],
        },
      },
    },
    verifyToken: tokenVerifier(token, tokens),
    // No Origin allow-list: browsers never hold the token, and every request must carry it.
  };
}

// Cold start: config, clients and the token once per container; a bad setting fails here.
export const handler = createLambdaHandler(await gatewayOptionsFromEnv(process.env));
