import { z } from 'zod';

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
  oauthIssuer: 'SDBATCH_OAUTH_ISSUER',
  oauthAudience: 'SDBATCH_OAUTH_AUDIENCE',
  oauthScope: 'SDBATCH_OAUTH_SCOPE',
  oauthJwksUrl: 'SDBATCH_OAUTH_JWKS_URL',
  oauthClientIds: 'SDBATCH_OAUTH_CLIENT_IDS',
} as const;

/** A comma-separated list of SD WebUI base URLs: one GPU host, or a pool. */
export const sdWebUiUrlList = (protocol: RegExp, message: string) =>
  z
    .string()
    .transform((raw) =>
      raw
        .split(',')
        .map((u) => u.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.url({ protocol, message })).min(1, 'name at least one SD WebUI URL'));

type Env = Record<string, string | undefined>;

const positiveInt = z.coerce.number().int().positive();
const positiveNumber = z.coerce.number().positive();

const StoresConfig = z.object({
  [ENV.tableName]: z.string().min(1),
  [ENV.bucketName]: z.string().min(1),
});

const WorkerConfig = StoresConfig.extend({
  [ENV.sdWebUiUrl]: sdWebUiUrlList(/^https?$/, 'each SD WebUI URL must be http(s)'),
  [ENV.sdWebUiAuthSecretArn]: z.string().min(1).optional(),
  [ENV.hostDepth]: positiveInt.max(8).default(2),
});

const GatewayConfig = StoresConfig.extend({
  [ENV.stateMachineArn]: z.string().min(1),
  [ENV.tokenSecretArn]: z.string().min(1),
  [ENV.concurrency]: positiveInt.default(2),
  [ENV.gpuHosts]: positiveInt.default(1),
  [ENV.retentionDays]: positiveInt.default(7),
  [ENV.secondsPerStep]: positiveNumber.default(0.05),
  [ENV.urlTtlSeconds]: positiveInt.max(43_200).default(3600),
  [ENV.presetsDir]: z.string().min(1).optional(),
  // Unset: the gateway's DEFAULT_LIMITS apply.
  [ENV.maxImagesPerJob]: positiveInt.optional(),
  [ENV.maxActiveJobs]: positiveInt.optional(),
  [ENV.maxPromptChars]: positiveInt.optional(),
  [ENV.maxRequestBytes]: positiveInt.optional(),
  // OAuth resource-server mode when an issuer is set; the audience is this gateway's MCP URL.
  [ENV.oauthIssuer]: z.url().optional(),
  [ENV.oauthAudience]: z.url().optional(),
  [ENV.oauthScope]: z.string().min(1).default('sdbatch/tools'),
  [ENV.oauthJwksUrl]: z.url().optional(),
  // Cognito's access tokens carry client_id instead of aud: the app clients that stand in for it.
  [ENV.oauthClientIds]: z
    .string()
    .optional()
    .transform((v) =>
      v
        ?.split(',')
        .map((id) => id.trim())
        .filter(Boolean),
    ),
}).refine((c) => !c[ENV.oauthIssuer] || c[ENV.oauthAudience] || c[ENV.oauthClientIds]?.length, {
  message: `${ENV.oauthAudience} (this gateway's MCP URL) or ${ENV.oauthClientIds} is required with ${ENV.oauthIssuer}`,
  path: [ENV.oauthAudience],
});

/** Fails at cold start with every missing or bad variable named, not at the first request. */
function load<T>(schema: z.ZodType<T>, env: Env, who: string): T {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
  throw new Error(`${who} configuration is invalid: ${problems}`);
}

export const loadWorkerConfig = (env: Env) => load(WorkerConfig, env, 'Worker');
export const loadGatewayConfig = (env: Env) => load(GatewayConfig, env, 'Gateway');
export type WorkerConfig = z.infer<typeof WorkerConfig>;
export type GatewayConfig = z.infer<typeof GatewayConfig>;
