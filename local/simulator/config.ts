import { z } from 'zod';
import { describeIssues, SETTINGS } from '../../core/settings.ts';
import { type Flavour, PROFILES } from './flavour.ts';

/** The environment of `npm run sim`, read and checked in one place. */
const SimulatorEnv = z.object({
  SDBATCH_SIM_PORT: SETTINGS.port.default(7861),
  SDBATCH_SIM_HOST: z
    .string()
    .trim()
    .default('127.0.0.1')
    .refine((host) => !/[\s/]/.test(host), 'must be a host name or IP address'),
  SDBATCH_SIM_STEP_MS: SETTINGS.simStepMs,
  SDBATCH_SIM_FLAVOUR: z
    .string()
    .trim()
    .default('reforge')
    .refine((f): f is Flavour => Object.hasOwn(PROFILES, f), {
      message: `must be one of ${Object.keys(PROFILES).join(', ')}`,
    }),
});

export interface SimulatorConfig {
  port: number;
  host: string;
  stepMs: number;
  flavour: Flavour;
}

/** Throws an Error naming every bad variable. */
export function readSimulatorConfig(env: NodeJS.ProcessEnv): SimulatorConfig {
  const blankless = Object.fromEntries(Object.entries(env).filter(([, v]) => v?.trim() !== ''));
  const result = SimulatorEnv.safeParse(blankless);
  if (!result.success) throw new Error(describeIssues(result.error, '; '));
  const { SDBATCH_SIM_PORT, SDBATCH_SIM_HOST, SDBATCH_SIM_STEP_MS, SDBATCH_SIM_FLAVOUR } = result.data;
  return {
    port: SDBATCH_SIM_PORT,
    host: SDBATCH_SIM_HOST,
    stepMs: SDBATCH_SIM_STEP_MS,
    flavour: SDBATCH_SIM_FLAVOUR as Flavour,
  };
}
