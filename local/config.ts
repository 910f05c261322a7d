import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { faultsFromEnv } from './simulator/faults.ts';

const port = z.coerce.number().int().min(0).max(65_535);

/** The embedded stack's environment variables, with their defaults (see README, Configuration). */
const LocalConfig = z.object({
  SDBATCH_PORT: port.default(8787),
  SDBATCH_HOST: z.string().min(1).default('127.0.0.1'),
  /** Extra Host names the gateway answers to (besides loopback and SDBATCH_HOST), e.g. a LAN name. */
  SDBATCH_ALLOWED_HOSTS: z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((h) => h.trim().toLowerCase())
        .filter(Boolean),
    ),
  SDBATCH_DATA_DIR: z.string().min(1).default('./.sdbatch'),
  SDBATCH_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  /** One SD WebUI or a comma-separated pool; user:password@ in a URL becomes HTTP Basic auth. */
  SD_WEBUI_URL: z
    .string()
    .optional()
    .transform((raw) =>
      raw
        ?.split(',')
        .map((u) => u.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.url({ protocol: /^https?$/, error: 'each entry must be an http(s) URL' })).optional()),
  SDBATCH_SIM_HOSTS: z.coerce.number().int().min(1).max(16).default(1),
  SDBATCH_HOST_DEPTH: z.coerce.number().int().min(1).max(8).default(2),
  SDBATCH_PRESETS_DIR: z
    .string()
    .min(1)
    .default(fileURLToPath(new URL('../presets', import.meta.url))),
  /** host:port list exempt from the ControlNet URL fetch rules (https, public addresses). */
  SDBATCH_FETCH_ALLOW_HOSTS: z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((h) => h.trim())
        .filter(Boolean),
    ),
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
  SDBATCH_SIM_STEP_MS: z.coerce.number().min(0).max(60_000).default(50),
  /** Iterations of one job in flight; default: every slot of the pool (hosts x depth). */
  SDBATCH_CONCURRENCY: z.coerce.number().int().min(1).max(256).optional(),
  SDBATCH_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(7),
  SDBATCH_MAX_IMAGES_PER_JOB: z.coerce.number().int().min(1).max(800).default(800),
  SDBATCH_MAX_ACTIVE_JOBS: z.coerce.number().int().min(1).max(1000).default(10),
  SDBATCH_MAX_PROMPT_CHARS: z.coerce.number().int().min(1).max(8000).default(8000),
  SDBATCH_MAX_REQUEST_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .max(64 * 1024 * 1024)
    .default(8 * 1024 * 1024),
  SDBATCH_SWEEP_SECONDS: z.coerce.number().int().min(1).max(86_400).default(600),
  SDBATCH_URL_TTL_SECONDS: z.coerce.number().int().min(60).max(604_800).default(3600),
});
export type LocalConfig = z.infer<typeof LocalConfig>;

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|::1|\[::1\])$/i;

/** Reads the environment, or throws one message naming every bad variable. */
export function loadLocalConfig(env: Record<string, string | undefined>): LocalConfig {
  const blankless = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== ''));
  const result = LocalConfig.safeParse(blankless);
  if (result.success) {
    // Reachable from other machines, a token nobody chose (and that sits in a file) is not enough.
    if (!LOOPBACK.test(result.data.SDBATCH_HOST) && !result.data.SDBATCH_TOKEN) {
      throw new Error(
        `Invalid configuration:\n  SDBATCH_HOST: ${result.data.SDBATCH_HOST} is not a loopback address; set SDBATCH_TOKEN (16+ characters) to bind there`,
      );
    }
    return result.data;
  }
  const lines = result.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
  throw new Error(`Invalid configuration:\n${lines.join('\n')}`);
}
