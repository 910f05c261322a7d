import { fileURLToPath } from 'node:url';
import { Logger } from '@aws-lambda-powertools/logger';
import { loadPresetCatalog } from '../../adapters/preset-files.ts';
import { readSecretString } from '../../adapters/secrets.ts';
import { renderContactSheet } from '../../adapters/sharp-contact-sheet.ts';
import { shrinkToJpeg } from '../../adapters/sharp-shrink.ts';
import type { AppOptions } from '../../mcp-gateway/app.ts';
import { createLambdaHandler } from '../../mcp-gateway/lambda.ts';
import { lambdaGatewayOptions } from '../composition-gateway.ts';
import { ENV, loadGatewayConfig } from '../config/env.ts';

const logger = new Logger({ serviceName: 'sdbatch-gateway' });

/** The gateway's options from the Lambda environment, the token secret and the bundled presets. */
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
  return lambdaGatewayOptions(config, token, presets, { renderContactSheet, shrinkImage: shrinkToJpeg });
}

// Cold start: config, clients and the token once per container; a bad setting fails here.
export const handler = createLambdaHandler(await gatewayOptionsFromEnv(process.env));
