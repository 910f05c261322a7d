import { LIMITS } from '../limits.ts';
import { GenerationParams, type PresetSettings, type StartInput } from '../params/generation.ts';

/** What a job gets when neither the preset nor the caller says otherwise. */
export const BUILT_IN_DEFAULTS = {
  negative_prompt: '',
  width: 512,
  height: 512,
  steps: 20,
  cfg_scale: 7,
  sampler_name: 'Euler a',
  seed: -1,
  batch_size: 1,
  n_iter: 1,
} as const;

const REGION_KEYWORDS = /\b(ADDBASE|ADDCOMM|ADDCOL|ADDROW|BREAK)\b/;
const joinNonEmpty = (parts: Array<string | undefined>) =>
  parts.filter((p) => p && p.trim() !== '').join(', ');

/**
 * sdreforge's prompt rule: prefix, prompt, suffix joined with ", ". With Regional Prompter on
 * and region keywords present, the decorations wrap the first region only.
 */
export function buildPrompt(prompt: string, prefix?: string, suffix?: string, regional = false): string {
  const match = regional ? REGION_KEYWORDS.exec(prompt) : null;
  if (!match) return joinNonEmpty([prefix, prompt, suffix]);
  const first = prompt.slice(0, match.index).trim();
  return `${joinNonEmpty([prefix, first, suffix])} ${prompt.slice(match.index)}`;
}

/** Lists merge by position: the caller's unit 1 refines the preset's unit 1. */
function mergeLists<T extends object>(base: T[] | undefined, over: T[] | undefined): T[] | undefined {
  if (!base) return over;
  if (!over) return base;
  return Array.from(
    { length: Math.max(base.length, over.length) },
    (_, i) => ({ ...base[i], ...over[i] }) as T,
  );
}

const dropUndefined = <T extends object>(o: T): Partial<T> =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;

export const randomSeed = (): number => Math.floor(Math.random() * LIMITS.seed.max);

/**
 * Built-in defaults < preset < caller; prompts decorated and joined as sdreforge does; -1 seeds
 * made concrete. The result is validated, so a bad preset value fails here with its field named.
 */
export function mergeParams(
  preset: PresetSettings,
  input: Omit<StartInput, 'preset'>,
  drawSeed: () => number = randomSeed,
): GenerationParams {
  const { prompt_prefix, prompt_suffix, prompt: _presetPrompt, ...presetFields } = preset;
  const caller = dropUndefined(input);
  const merged = {
    ...BUILT_IN_DEFAULTS,
    ...dropUndefined(presetFields),
    ...caller,
    adetailer: mergeLists(presetFields.adetailer, caller.adetailer),
    controlnet: mergeLists(presetFields.controlnet, caller.controlnet),
  };
  const regional = merged.rp_active === true;
  const params = {
    ...merged,
    prompt: buildPrompt(input.prompt, prompt_prefix, prompt_suffix, regional),
    negative_prompt: joinNonEmpty([presetFields.negative_prompt, input.negative_prompt]),
    seed: merged.seed === -1 ? drawSeed() : merged.seed,
    subseed: merged.subseed === undefined ? undefined : merged.subseed === -1 ? drawSeed() : merged.subseed,
  };
  return GenerationParams.parse(dropUndefined(params));
}
