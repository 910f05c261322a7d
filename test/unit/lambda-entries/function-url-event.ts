import { fileURLToPath } from 'node:url';
import { ENV } from '../../../lambdas/config/env.ts';
import type { FunctionUrlEvent } from '../../../mcp-gateway/lambda.ts';

export interface EventOptions {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: unknown;
  base64?: boolean;
}

/** A Function URL request as Lambda delivers it: API Gateway's payload format 2.0. */
export function functionUrlEvent(options: EventOptions = {}): FunctionUrlEvent {
  const { method = 'POST', path = '/mcp', headers = {}, body, base64 = false } = options;
  const text = body === undefined || typeof body === 'string' ? body : JSON.stringify(body);
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString: '',
    headers: { host: 'abc123.lambda-url.eu-west-1.on.aws', 'x-forwarded-proto': 'https', ...headers },
    requestContext: {
      accountId: 'anonymous',
      apiId: 'abc123',
      domainName: 'abc123.lambda-url.eu-west-1.on.aws',
      domainPrefix: 'abc123',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '203.0.113.7', userAgent: 'claude-code/2.0' },
      requestId: 'c0ffee00-0000-4000-8000-000000000001',
      routeKey: '$default',
      stage: '$default',
      time: '24/Nov/2026:10:00:00 +0000',
      timeEpoch: 1_795_514_400_000,
    },
    body: text !== undefined && base64 ? Buffer.from(text).toString('base64') : text,
    isBase64Encoded: base64,
  };
}

/** What an MCP client sends with every POST. */
export const mcpHeaders = (token?: string): Record<string, string> => ({
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  'mcp-protocol-version': '2025-06-18',
  ...(token ? { authorization: `Bearer ${token}` } : {}),
});

export const GATEWAY_TOKEN = 'tok3nTok3nTok3nTok3nTok3nTok3n42';
export const STATE_MACHINE = 'arn:aws:states:eu-west-1:123456789012:stateMachine:SdbatchJobs';
export const TOKEN_SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:GatewayToken-AbC123';

/** The gateway function's environment as CDK sets it, plus `extra`: what its entry reads at a cold start. */
export const gatewayEnvironment = (extra: Record<string, string> = {}): Record<string, string> => ({
  AWS_REGION: 'eu-west-1',
  AWS_ACCESS_KEY_ID: 'test',
  AWS_SECRET_ACCESS_KEY: 'test',
  POWERTOOLS_LOG_LEVEL: 'SILENT',
  [ENV.tableName]: 'jobs',
  [ENV.bucketName]: 'images',
  [ENV.stateMachineArn]: STATE_MACHINE,
  [ENV.tokenSecretArn]: TOKEN_SECRET,
  [ENV.presetsDir]: fileURLToPath(new URL('../../../presets', import.meta.url)),
  ...extra,
});
