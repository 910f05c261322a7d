import { z } from 'zod';
import { LIMITS } from './limits.ts';

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** A comma-separated list, trimmed, blanks dropped. */
export const commaList = (raw: string): string[] =>
  raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** One SD WebUI base URL or a comma-separated pool of them, each of `protocol`. */
export const sdWebUiUrls = (protocol: RegExp, message: string) =>
  z
    .string()
    .transform(commaList)
    .pipe(z.array(z.url({ protocol, message })).min(1, 'name at least one SD WebUI URL'));

/**
 * Each GPU host's request time limit in seconds, as a proxy or tunnel in front of it enforces it
 * (Cloudflare's ends a request after 100 s): one value for every host, or one per SD WebUI URL in
 * the same order; 0 = none. A number from cdk.json is taken as that one value.
 */
const requestLimits = z.preprocess(
  (value) => (typeof value === 'number' ? String(value) : value),
  z
    .string()
    .transform(commaList)
    .pipe(
      z
        .array(
          z.coerce
            .number<string>({ message: 'each entry must be a number of seconds (0 = no limit)' })
            .min(0, 'each entry must be 0 (no limit) or more seconds')
            .max(86_400, 'each entry must be at most 86400 seconds'),
        )
        .min(1, 'give a number of seconds, or one per SD WebUI URL'),
    ),
);

/** Each host's request limit (undefined: none), from the setting's one value or one per host. */
export function requestLimitsOf(
  limits: readonly number[] | undefined,
  hosts: number,
): (number | undefined)[] {
  return Array.from({ length: hosts }, (_, i) => {
    const seconds = limits?.length === 1 ? limits[0] : limits?.[i];
    return seconds ? seconds : undefined;
  });
}

/** Whether a request limit list fits a pool of `hosts`: one value for all, or one per host. */
export const requestLimitsFit = (limits: readonly number[] | undefined, hosts: number): boolean =>
  limits === undefined || limits.length === 1 || limits.length === hosts;

export const requestLimitsMessage = (hosts: number) =>
  `give one limit for every host or one per SD WebUI URL (${hosts}), in the same order`;

/**
 * Every setting more than one loader reads, with its one default and bound. The Lambda
 * environment, the embedded stack's environment and the CDK context map their own names onto
 * these (lambdas/config/env.ts, local/config.ts, cdk/deploy-settings.ts).
 */
export const SETTINGS = {
  /** Calls each GPU host holds at once: 2 keeps the next one queued while the last one uploads. */
  hostDepth: int(1, 8).default(2),
  /** Each host's request time limit (a tunnel's): see requestLimits. */
  hostRequestLimitSeconds: requestLimits.optional(),
  /** SD WebUI calls of one job in flight at once; unset, every slot of the pool (hosts x depth). */
  concurrency: int(1, 256).optional(),
  /** GPU hosts working in parallel, for the a-priori estimate. */
  gpuHosts: z.coerce.number().int().positive().default(1),
  /** How long jobs and images are kept. */
  retentionDays: int(1, 3650).default(7),
  /**
   * Lifetime of a presigned download URL. SigV4 allows 7 days, but a URL signed with temporary
   * credentials dies with them, and a Lambda role's session lasts at most 12 hours: a longer
   * lifetime would promise what AWS does not keep.
   */
  urlTtlSeconds: int(60, 43_200).default(3600),
  /** Seconds one sampling step of a 512x512 image takes on a GPU host not measured yet. */
  secondsPerStep: z.coerce.number().positive().default(0.05),
  maxImagesPerJob: int(1, 800).default(800),
  /** Pending or running jobs per caller. */
  maxActiveJobs: int(1, 1000).default(10),
  /** Prompt length after the preset's prefix and suffix. */
  maxPromptChars: int(1, LIMITS.promptChars).default(LIMITS.promptChars),
  /** MCP request body size: two data-URL control images of 2 MiB each, base64-encoded, plus the rest. */
  maxRequestBytes: int(1024, 64 * 1024 * 1024).default(8 * 1024 * 1024),
  oauthScope: z.string().min(1).default('sdbatch/tools'),
  /** The simulator's time per sampling step per image. */
  simStepMs: z.coerce.number().min(0).max(60_000).default(50),
  port: int(0, 65_535),
} as const;

const SharedSettings = z.object(SETTINGS).omit({ port: true });
export type SharedSettings = z.infer<typeof SharedSettings>;

/** Every default, for code that needs one without reading a loader's names. */
export const DEFAULT_SETTINGS = SharedSettings.parse({});

/** One message naming every bad value, as the loaders throw it. */
export const describeIssues = (error: z.ZodError, separator: string, indent = ''): string =>
  error.issues.map((i) => `${indent}${i.path.join('.')}: ${i.message}`).join(separator);

type SettingKey = keyof typeof SETTINGS;
type Names = Partial<Record<SettingKey, string>>;

/**
 * A loader's names for the shared settings it reads: `shape` checks them under those names (with
 * the schema's defaults and bounds), `pick` hands the values back under the settings' own names.
 */
export function namedSettings<const N extends Names>(names: N) {
  type Shape = { [K in keyof N as N[K] & string]: (typeof SETTINGS)[K & SettingKey] };
  type Values = { [K in keyof N & SettingKey]: z.output<(typeof SETTINGS)[K]> };
  const entries = Object.entries(names) as [SettingKey, string][];
  return {
    shape: Object.fromEntries(entries.map(([key, name]) => [name, SETTINGS[key]])) as Shape,
    names: entries.map(([, name]) => name),
    pick: (values: Record<string, unknown>): Values =>
      Object.fromEntries(entries.map(([key, name]) => [key, values[name]])) as Values,
  };
}
