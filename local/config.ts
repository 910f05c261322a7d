import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import {
  commaList,
  describeIssues,
  namedSettings,
  requestLimitsFit,
  requestLimitsMessage,
  SETTINGS,
  sdWebUiUrls,
} from '../core/settings.ts';
import { faultsFromEnv } from './simulator/faults.ts';

/** The shared settings (core/settings.ts) the embedded stack reads, by variable name. */
const SHARED = namedSettings({
  hostDepth: 'SDBATCH_HOST_DEPTH',
  hostRequestLimitSeconds: 'SDBATCH_HOST_REQUEST_LIMIT_SECONDS',
  concurrency: 'SDBATCH_CONCURRENCY',
  simStepMs: 'SDBATCH_SIM_STEP_MS',
  retentionDays: 'SDBATCH_RETENTION_DAYS',
  urlTtlSeconds: 'SDBATCH_URL_TTL_SECONDS',
  maxImagesPerJob: 'SDBATCH_MAX_IMAGES_PER_JOB',
  maxActiveJobs: 'SDBATCH_MAX_ACTIVE_JOBS',
  maxPromptChars: 'SDBATCH_MAX_PROMPT_CHARS',
  maxRequestBytes: 'SDBATCH_MAX_REQUEST_BYTES',
});

/** The shared settings' values, under their own names. */
export const sharedSettingsOf = (config: LocalConfig) => SHARED.pick(config);

/** The embedded stack's environment variables: its own here, the shared ones by name above. */
const LocalConfig = z.object({
  SDBATCH_PORT: SETTINGS.port.default(8787),
  SDBATCH_HOST: z.string().min(1).default('127.0.0.1'),
  /** Extra Host names the gateway answers to (besides loopback and SDBATCH_HOST), e.g. a LAN name. */
  SDBATCH_ALLOWED_HOSTS: z
    .string()
    .default('')
    .transform((v) => commaList(v.toLowerCase())),
  SDBATCH_DATA_DIR: z.string().min(1).default('./.sdbatch'),
  SDBATCH_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  /** One SD WebUI or a comma-separated pool; user:password@ in a URL becomes HTTP Basic auth. */
  SD_WEBUI_URL: sdWebUiUrls(/^https?$/, 'each entry must be an http(s) URL').optional(),
  SDBATCH_SIM_HOSTS: z.coerce.number().int().min(1).max(64).default(1),
  SDBATCH_PRESETS_DIR: z
    .string()
    .min(1)
    .default(fileURLToPath(new URL('../presets', import.meta.url))),
  /** host:port list exempt from the ControlNet URL fetch rules (https, public addresses). */
  SDBATCH_FETCH_ALLOW_HOSTS: z.string().default('').transform(commaList),
  SDBATCH_SIM_FAULTS: z
    .string()
    .optional()
    .transform((raw, ctx) => {
      try {
        return faultsFromEnv(raw);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
        return z.NEVER;
      }
    }),
  SDBATCH_SWEEP_SECONDS: z.coerce.number().int().min(1).max(86_400).default(600),
  ...SHARED.shape,
});
export type LocalConfig = z.infer<typeof LocalConfig>;

/** The checks across variables: the request limits fit the pool, the named one or the simulated. */
const CheckedLocalConfig = LocalConfig.superRefine((c, ctx) => {
  const hosts = c.SD_WEBUI_URL?.length ?? c.SDBATCH_SIM_HOSTS;
  if (!requestLimitsFit(c.SDBATCH_HOST_REQUEST_LIMIT_SECONDS, hosts)) {
    ctx.addIssue({
      code: 'custom',
      path: ['SDBATCH_HOST_REQUEST_LIMIT_SECONDS'],
      message: requestLimitsMessage(hosts),
    });
  }
});

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|::1|\[::1\])$/i;

/** Reads the environment, or throws one message naming every bad variable. */
export function loadLocalConfig(env: Record<string, string | undefined>): LocalConfig {
  const blankless = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== ''));
  const result = CheckedLocalConfig.safeParse(blankless);
  if (result.success) {
    // Reachable from other machines, a token nobody chose (and that sits in a file) is not enough.
    if (!LOOPBACK.test(result.data.SDBATCH_HOST) && !result.data.SDBATCH_TOKEN) {
      throw new Error(
        `Invalid configuration:\n  SDBATCH_HOST: ${result.data.SDBATCH_HOST} is not a loopback address; set SDBATCH_TOKEN (16+ characters) to bind there`,
      );
    }
    return result.data;
  }
  throw new Error(`Invalid configuration:\n${describeIssues(result.error, '\n', '  ')}`);
}
