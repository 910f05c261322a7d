import { PresetSettings } from '../params/generation.ts';
import type { PresetFile } from './preset.ts';

const CONTROLNET_FLAT = /^controlnet_(\w+?)_(\d+)$/;
const ADETAILER_FLAT = /^adetailer_model_(\d+)$/;
const CONTROLNET_FIELDS = new Set([
  'model',
  'module',
  'weight',
  'guidance_start',
  'guidance_end',
  'control_mode',
  'resize_mode',
  'pixel_perfect',
  'threshold_a',
  'threshold_b',
  'processor_res',
]);

/** ADetailer tab keys in sdreforge presets may carry the extension's ad_ prefix. */
const withoutAdPrefix = (o: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(o).map(([k, v]) => [k.replace(/^ad_/, ''), v]));

/**
 * Turns a preset file into settings in sdbatch's shape: sdreforge's numbered flat keys
 * (adetailer_model_1, controlnet_model_1, ...) become the adetailer/controlnet lists, and the
 * extensions block is folded in. Throws a zod error naming the bad field.
 */
export function presetSettings(preset: PresetFile): PresetSettings {
  const flat: Record<string, unknown> = {};
  const adetailer: Record<string, unknown>[] = [];
  const controlnet: Record<string, unknown>[] = [];
  const slot = (list: Record<string, unknown>[], n: number) => {
    while (list.length < n) list.push({});
    return list[n - 1] as Record<string, unknown>;
  };

  for (const [key, value] of Object.entries(preset.base_settings)) {
    if (value === null || value === undefined || value === '') continue;
    const ad = ADETAILER_FLAT.exec(key);
    const cn = CONTROLNET_FLAT.exec(key);
    if (ad) slot(adetailer, Number(ad[1])).model = value;
    else if (cn && CONTROLNET_FIELDS.has(cn[1] as string))
      slot(controlnet, Number(cn[2]))[cn[1] as string] = value;
    else if (!cn) flat[key] = value;
  }

  const ext = preset.extensions ?? {};
  if (ext.adetailer?.enabled !== false) {
    (ext.adetailer?.models ?? []).forEach((m, i) => {
      Object.assign(slot(adetailer, i + 1), withoutAdPrefix(m));
    });
  }
  if (ext.controlnet?.enabled) {
    (ext.controlnet.units ?? []).forEach((u, i) => {
      Object.assign(slot(controlnet, i + 1), u);
    });
  }
  Object.assign(flat, ext.regional_prompter ?? {}, ext.dynamic_prompts ?? {});

  const template = preset.prompt_template;
  const settings = {
    ...(template?.positive_prefix ? { prompt_prefix: template.positive_prefix } : {}),
    ...(template?.positive_suffix ? { prompt_suffix: template.positive_suffix } : {}),
    ...(template?.negative ? { negative_prompt: template.negative } : {}),
    ...flat,
    ...(adetailer.some((m) => m.model) ? { adetailer: adetailer.filter((m) => m.model) } : {}),
    ...(controlnet.some((u) => Object.keys(u).length > 0) ? { controlnet } : {}),
  };
  return PresetSettings.parse(settings);
}
