import { type Flavour, PROFILES } from './flavour.ts';

/** The environment of `npm run sim`, read and checked in one place. */

export interface SimulatorConfig {
  port: number;
  host: string;
  stepMs: number;
  flavour: Flavour;
}

export const SIM_ENV = {
  port: 'SDBATCH_SIM_PORT',
  host: 'SDBATCH_SIM_HOST',
  stepMs: 'SDBATCH_SIM_STEP_MS',
  flavour: 'SDBATCH_SIM_FLAVOUR',
} as const;

function readNumber(
  env: NodeJS.ProcessEnv,
  name: string,
  fallback: number,
  valid: (n: number) => boolean,
  what: string,
) {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = Number(raw);
  if (!valid(n)) throw new Error(`${name} must be ${what}, got ${JSON.stringify(raw)}`);
  return n;
}

/** Throws an Error naming the variable when a value is bad. */
export function readSimulatorConfig(env: NodeJS.ProcessEnv): SimulatorConfig {
  const isPort = (n: number) => Number.isInteger(n) && n >= 0 && n <= 65535;
  const port = readNumber(env, SIM_ENV.port, 7861, isPort, 'an integer port from 0 to 65535');
  const stepMs = readNumber(
    env,
    SIM_ENV.stepMs,
    50,
    (n) => Number.isFinite(n) && n >= 0,
    'a number of ms >= 0',
  );
  const host = env[SIM_ENV.host]?.trim() || '127.0.0.1';
  if (/[\s/]/.test(host))
    throw new Error(`${SIM_ENV.host} must be a host name or IP address, got ${JSON.stringify(host)}`);
  const flavour = env[SIM_ENV.flavour]?.trim() || 'reforge';
  if (!Object.hasOwn(PROFILES, flavour)) {
    throw new Error(
      `${SIM_ENV.flavour} must be one of ${Object.keys(PROFILES).join(', ')}, got ${JSON.stringify(flavour)}`,
    );
  }
  return { port, host, stepMs, flavour: flavour as Flavour };
}
