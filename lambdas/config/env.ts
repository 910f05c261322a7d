import { z } from 'zod';
import {
  commaList,
  DEFAULT_SETTINGS,
  describeIssues,
  namedSettings,
  requestLimitsFit,
  requestLimitsMessage,
  SETTINGS,
  sdWebUiUrls,
} from '../../core/settings.ts';

/**
 * Every environment variable the Lambdas read, named once: the CDK app sets them by these
 * names and the loaders below read them.
 */
export const ENV = {
  tableName: 'SDBATCH_TABLE_NAME',
  bucketName: 'SDBATCH_BUCKET_NAME',
  stateMachineArn: 'SDBATCH_STATE_MACHINE_ARN',
  sdWebUiUrl: 'SD_WEBUI_URL',
  sdWebUiAuthSecretArn: 'SD_WEBUI_AUTH_SECRET_ARN',
  tokenSecretArn: 'SDBATCH_TOKEN_SECRET_ARN',
  concurrency: 'SDBATCH_CONCURRENCY',
  gpuHosts: 'SDBATCH_GPU_HOSTS',
  retentionDays: 'SDBATCH_RETENTION_DAYS',
  secondsPerStep: 'SDBATCH_SECONDS_PER_STEP',
  urlTtlSeconds: 'SDBATCH_URL_TTL_SECONDS',
  presetsDir: 'SDBATCH_PRESETS_DIR',
  maxImagesPerJob: 'SDBATCH_MAX_IMAGES_PER_JOB',
  maxActiveJobs: 'SDBATCH_MAX_ACTIVE_JOBS',
  maxPromptChars: 'SDBATCH_MAX_PROMPT_CHARS',
  maxRequestBytes: 'SDBATCH_MAX_REQUEST_BYTES',
  hostDepth: 'SDBATCH_HOST_DEPTH',
  hostRequestLimitSeconds: 'SDBATCH_HOST_REQUEST_LIMIT_SECONDS',
  oauthIssuer: 'SDBATCH_OAUTH_ISSUER',
  oauthAudience: 'SDBATCH_OAUTH_AUDIENCE',
  oauthScope: 'SDBATCH_OAUTH_SCOPE',
  oauthJwksUrl: 'SDBATCH_OAUTH_JWKS_URL',
  oauthClientIds: 'SDBATCH_OAUTH_CLIENT_IDS',
  workersReachInternet: 'SDBATCH_WORKERS_REACH_INTERNET',
} as const;

type Env = Record<string, string | undefined>;

const StoresConfig = z.object({
  [ENV.tableName]: z.string().min(1),
  [ENV.bucketName]: z.string().min(1),
});

const WorkerConfig = StoresConfig.extend({
  [ENV.sdWebUiUrl]: sdWebUiUrls(/^https?$/, 'each SD WebUI URL must be http(s)'),
  [ENV.sdWebUiAuthSecretArn]: z.string().min(1).optional(),
  [ENV.hostDepth]: SETTINGS.hostDepth,
  [ENV.hostRequestLimitSeconds]: SETTINGS.hostRequestLimitSeconds,
}).superRefine((c, ctx) => {
  const hosts = c[ENV.sdWebUiUrl].length;
  if (!requestLimitsFit(c[ENV.hostRequestLimitSeconds], hosts)) {
    ctx.addIssue({
      code: 'custom',
      path: [ENV.hostRequestLimitSeconds],
      message: requestLimitsMessage(hosts),
    });
  }
});

/** The shared settings the gateway reads (core/settings.ts), by variable name. */
export const GATEWAY_SETTINGS = namedSettings({
  gpuHosts: ENV.gpuHosts,
  retentionDays: ENV.retentionDays,
  secondsPerStep: ENV.secondsPerStep,
  urlTtlSeconds: ENV.urlTtlSeconds,
  maxImagesPerJob: ENV.maxImagesPerJob,
  maxActiveJobs: ENV.maxActiveJobs,
  maxPromptChars: ENV.maxPromptChars,
  maxRequestBytes: ENV.maxRequestBytes,
});

const GatewayConfig = StoresConfig.extend({
  [ENV.stateMachineArn]: z.string().min(1),
  [ENV.tokenSecretArn]: z.string().min(1),
  // The CDK app always sets it (hosts x depth); unset, one host at the default depth.
  [ENV.concurrency]: SETTINGS.concurrency.default(DEFAULT_SETTINGS.gpuHosts * DEFAULT_SETTINGS.hostDepth),
  ...GATEWAY_SETTINGS.shape,
  [ENV.presetsDir]: z.string().min(1).optional(),
  // "false" in VPC mode without a route out: the workers cannot fetch a control image URL.
  [ENV.workersReachInternet]: z
    .enum(['true', 'false'])
    .default('true')
    .transform((v) => v === 'true'),
  // OAuth resource-server mode when an issuer is set; the audience is this gateway's MCP URL.
  [ENV.oauthIssuer]: z.url().optional(),
  [ENV.oauthAudience]: z.url().optional(),
  [ENV.oauthScope]: SETTINGS.oauthScope,
  [ENV.oauthJwksUrl]: z.url().optional(),
  // Cognito's access tokens carry client_id instead of aud: the app clients that stand in for it.
  [ENV.oauthClientIds]: z
    .string()
    .optional()
    .transform((v) => (v === undefined ? v : commaList(v))),
}).refine((c) => !c[ENV.oauthIssuer] || c[ENV.oauthAudience] || c[ENV.oauthClientIds]?.length, {
  message: `${ENV.oauthAudience} (this gateway's MCP URL) or ${ENV.oauthClientIds} is required with ${ENV.oauthIssuer}`,
  path: [ENV.oauthAudience],
});

/** The variables a loader reads, and whether it needs them set: what the CDK app must set. */
const variables = (schema: z.ZodObject) =>
  Object.entries(schema.shape).map(([name, value]) => ({
    name,
    required: !value.safeParse(undefined).success,
  }));
export const LOADER_VARIABLES = { worker: variables(WorkerConfig), gateway: variables(GatewayConfig) };

/** Fails at cold start with every missing or bad variable named, not at the first request. */
function load<T>(schema: z.ZodType<T>, env: Env, who: string): T {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  throw new Error(`${who} configuration is invalid: ${describeIssues(result.error, '; ')}`);
}

export const loadWorkerConfig = (env: Env) => load(WorkerConfig, env, 'Worker');
export const loadGatewayConfig = (env: Env) => load(GatewayConfig, env, 'Gateway');
export type WorkerConfig = z.infer<typeof WorkerConfig>;
export type GatewayConfig = z.infer<typeof GatewayConfig>;
