import { z } from 'zod';

const rate = z.number().min(0).max(1);

export const faultConfigSchema = z.strictObject({
  /** Fraction of txt2img calls that fail with 500 OutOfMemoryError when their turn comes. */
  errorRate: rate,
  /** Fraction whose socket is destroyed halfway through the (generated) response. */
  dropRate: rate,
  /** Fraction answered 200 with a truncated, invalid JSON body. */
  malformedRate: rate,
  /** Fraction answered 200 with `images: []`. */
  emptyRate: rate,
  /** Fraction that generate but never answer (until the simulator closes). */
  hangRate: rate,
  /** Multiplies the time of every sampling step. */
  slowFactor: z.number().positive().max(1000),
  /** Fraction rejected at once with 422. */
  rejectRate: rate,
  /**
   * Acts as a tunnel that ends any request not answered within this many seconds with HTTP 524
   * (Cloudflare's is 100) while the host behind it goes on with it; 0 = no tunnel.
   */
  tunnelSeconds: z.number().min(0).max(86_400),
  /** Seeds the PRNG that draws faults; setting it restarts the sequence. */
  seed: z.number().int().optional(),
});

export type FaultConfig = z.infer<typeof faultConfigSchema>;
export type Fault = 'reject' | 'error' | 'drop' | 'malformed' | 'empty' | 'hang';

/** Order in which the rates share one uniform draw: each takes its own slice of [0, 1). */
const ORDER = [
  ['reject', 'rejectRate'],
  ['error', 'errorRate'],
  ['drop', 'dropRate'],
  ['malformed', 'malformedRate'],
  ['empty', 'emptyRate'],
  ['hang', 'hangRate'],
] as const satisfies ReadonlyArray<readonly [Fault, keyof FaultConfig]>;

const DEFAULT_SEED = 0x5eed;

/** mulberry32: small, fast, good enough to make fault sequences reproducible. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Faults {
  #config: FaultConfig = {
    errorRate: 0,
    dropRate: 0,
    malformedRate: 0,
    emptyRate: 0,
    hangRate: 0,
    slowFactor: 1,
    rejectRate: 0,
    tunnelSeconds: 0,
  };
  #random = prng(DEFAULT_SEED);

  get config(): FaultConfig {
    return { ...this.#config };
  }

  /** Merges a partial config (validated: throws a ZodError on bad values or unknown keys). */
  set(partial: unknown): FaultConfig {
    const update = faultConfigSchema.partial().parse(partial);
    this.#config = { ...this.#config, ...update };
    if (update.seed !== undefined) this.#random = prng(update.seed);
    return this.config;
  }

  /** One draw per txt2img call; the rates split [0, 1) in ORDER, so each is the fraction of calls it hits. */
  draw(): Fault | undefined {
    const u = this.#random();
    let edge = 0;
    for (const [fault, key] of ORDER) {
      edge += this.#config[key] ?? 0;
      if (u < edge) return fault;
    }
    return undefined;
  }
}

/** SDBATCH_SIM_FAULTS: the same JSON `POST /sim/faults` takes, for a whole run. */
export function faultsFromEnv(raw: string | undefined): Partial<FaultConfig> {
  if (!raw?.trim()) return {};
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new Error('SDBATCH_SIM_FAULTS must be JSON, e.g. {"errorRate":0.2}');
  }
  const parsed = faultConfigSchema.partial().safeParse(value);
  if (!parsed.success) throw new Error(`SDBATCH_SIM_FAULTS: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}
