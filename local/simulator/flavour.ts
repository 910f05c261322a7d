import { SAMPLERS } from './catalog.ts';

/**
 * Which SD WebUI the simulator stands in for. 'reforge' (the default): A1111 1.10-based reForge, with
 * schedulers. 'a1111-1.8': AUTOMATIC1111 v1.8.0 as the contract suite measured it (sd-webui-kit,
 * fixtures in test/fixtures/sd-webui-1.8): no schedulers, its own sampler list, 404 for an unknown sampler.
 */
export type Flavour = 'reforge' | 'a1111-1.8';

export interface SamplerItem {
  name: string;
  aliases: readonly string[];
  options: Readonly<Record<string, string>>;
}

export interface HostProfile {
  flavour: Flavour;
  /** `Version:` of infotexts and `info.version`. */
  version: string;
  /** GET /schedulers and the request fields `scheduler`/`hr_scheduler` (A1111 1.9+, reForge). */
  schedulers: boolean;
  samplers: readonly SamplerItem[];
  /** Request fields this host's model lacks: pydantic drops them, `parameters` does not echo them. */
  unknownFields: readonly string[];
  /**
   * The model lists of the ADetailer and ControlNet extensions (/adetailer/v1/ad_model,
   * /controlnet/model_list); the kit's 1.8 has neither extension and answers them 404.
   */
  extensionRoutes: boolean;
  /** 1.8 answers an unknown sampler 404 "Sampler not found"; 1.9+ falls back to the first sampler. */
  rejectsUnknownSampler: boolean;
  /**
   * Every 500 as `ExceptionGroup: unhandled errors in a TaskGroup (1 sub-exception)`: what starlette
   * 0.26 (A1111's pin) answers under anyio 4, whose task groups wrap the endpoint's exception.
   */
  exceptionGroups: boolean;
}

const karras = { scheduler: 'karras' };
const exponential = { scheduler: 'exponential' };
const second = { second_order: 'True' };
const brownian = { brownian_noise: 'True' };
const ensd = { uses_ensd: 'True' };
const discard = { discard_next_to_last_sigma: 'True' };
const heun = { solver_type: 'heun' };
const s = (
  name: string,
  alias: string | string[],
  ...options: Array<Record<string, string>>
): SamplerItem => ({
  name,
  aliases: typeof alias === 'string' ? [alias] : alias,
  options: Object.assign({}, ...options),
});

/** GET /samplers of A1111 v1.8.0: schedules are part of the name ("DPM++ 2M Karras"). */
export const SAMPLERS_1_8: readonly SamplerItem[] = [
  s('DPM++ 2M Karras', 'k_dpmpp_2m_ka', karras),
  s('DPM++ SDE Karras', 'k_dpmpp_sde_ka', karras, second, brownian),
  s('DPM++ 2M SDE Exponential', 'k_dpmpp_2m_sde_exp', exponential, brownian),
  s('DPM++ 2M SDE Karras', 'k_dpmpp_2m_sde_ka', karras, brownian),
  s('Euler a', ['k_euler_a', 'k_euler_ancestral'], ensd),
  s('Euler', 'k_euler'),
  s('LMS', 'k_lms'),
  s('Heun', 'k_heun', second),
  s('DPM2', 'k_dpm_2', discard, second),
  s('DPM2 a', 'k_dpm_2_a', discard, ensd, second),
  s('DPM++ 2S a', 'k_dpmpp_2s_a', ensd, second),
  s('DPM++ 2M', 'k_dpmpp_2m'),
  s('DPM++ SDE', 'k_dpmpp_sde', second, brownian),
  s('DPM++ 2M SDE', 'k_dpmpp_2m_sde_ka', brownian),
  s('DPM++ 2M SDE Heun', 'k_dpmpp_2m_sde_heun', brownian, heun),
  s('DPM++ 2M SDE Heun Karras', 'k_dpmpp_2m_sde_heun_ka', karras, brownian, heun),
  s('DPM++ 2M SDE Heun Exponential', 'k_dpmpp_2m_sde_heun_exp', exponential, brownian, heun),
  s('DPM++ 3M SDE', 'k_dpmpp_3m_sde', discard, brownian),
  s('DPM++ 3M SDE Karras', 'k_dpmpp_3m_sde_ka', karras, discard, brownian),
  s('DPM++ 3M SDE Exponential', 'k_dpmpp_3m_sde_exp', exponential, discard, brownian),
  s('DPM fast', 'k_dpm_fast', ensd),
  s('DPM adaptive', 'k_dpm_ad', ensd),
  s('LMS Karras', 'k_lms_ka', karras),
  s('DPM2 Karras', 'k_dpm_2_ka', karras, discard, ensd, second),
  s('DPM2 a Karras', 'k_dpm_2_a_ka', karras, discard, ensd, second),
  s('DPM++ 2S a Karras', 'k_dpmpp_2s_a_ka', karras, ensd, second),
  s('Restart', 'restart', karras, second),
  s('DDIM', 'ddim'),
  s('PLMS', 'plms'),
  s('UniPC', 'unipc'),
  s('LCM', 'k_lcm'),
];

export const PROFILES: Record<Flavour, HostProfile> = {
  reforge: {
    flavour: 'reforge',
    version: 'v1.10.1',
    schedulers: true,
    samplers: SAMPLERS,
    unknownFields: [],
    extensionRoutes: true,
    rejectsUnknownSampler: false,
    exceptionGroups: false,
  },
  'a1111-1.8': {
    flavour: 'a1111-1.8',
    version: 'v1.8.0',
    schedulers: false,
    samplers: SAMPLERS_1_8,
    unknownFields: ['scheduler', 'hr_scheduler', 'hr_cfg'],
    extensionRoutes: false,
    rejectsUnknownSampler: true,
    exceptionGroups: true,
  },
};
