import { z } from 'zod';
import { LIMITS } from '../limits.ts';
import { AdetailerModel, MAX_ADETAILER_MODELS } from './adetailer.ts';
import { ControlNetUnit, ControlNetUnitInput, MAX_CONTROLNET_UNITS } from './controlnet.ts';
import { decimal } from './decimal.ts';
import { DynamicPromptsShape } from './dynamic-prompts.ts';
import { RegionalPrompterShape } from './regional-prompter.ts';

const int = (min: number, max: number) => z.number().int().min(min).max(max);
const text = (max = LIMITS.promptChars) => z.string().max(max);
const name = () => z.string().min(1).max(LIMITS.nameChars);
const side = (what: string) =>
  int(LIMITS.side.min, LIMITS.side.max)
    .multipleOf(LIMITS.side.multipleOf)
    .describe(`Image ${what} in pixels, a multiple of 8 from ${LIMITS.side.min} to ${LIMITS.side.max}.`);
const hiresSide = (what: string) =>
  int(0, 4096)
    .multipleOf(8)
    .describe(`Hires output ${what}; 0 = from hr_scale (one 0 keeps the aspect ratio).`);

/**
 * Every txt2img parameter of the sdreforge dynamic preset, optional here: the tool input, the
 * preset's base settings and the stored job all derive from this one shape.
 */
export const GenerationFields = {
  prompt: z
    .string()
    .min(1)
    .max(LIMITS.promptChars)
    .describe('What to draw. SD WebUI syntax: (emphasis:1.2), <lora:name:0.8>.'),
  negative_prompt: text().describe("What to avoid; appended to the preset's negative prompt."),
  width: side('width'),
  height: side('height'),
  steps: int(LIMITS.steps.min, LIMITS.steps.max).describe(
    'Sampling steps per image (1-150); time grows with steps.',
  ),
  cfg_scale: decimal(LIMITS.cfgScale.min, LIMITS.cfgScale.max).describe('Prompt adherence (1-30).'),
  sampler_name: name().describe('Sampler, e.g. "Euler a", "DPM++ 2M".'),
  scheduler: name().describe('Schedule type, e.g. "Automatic", "Karras".'),
  clip_skip: int(1, 12).describe(
    'CLIP layers to skip (1-12); sent as override_settings.CLIP_stop_at_last_layers.',
  ),
  checkpoint: name().describe(
    'Model checkpoint by title, file name, model name or hash; default = the loaded one.',
  ),
  seed: int(LIMITS.seed.min, LIMITS.seed.max).describe(
    'Base seed; -1 = random. Image k of the job gets seed + k.',
  ),
  subseed: int(LIMITS.seed.min, LIMITS.seed.max).describe('Variation seed; -1 = random.'),
  subseed_strength: decimal(0, 1).describe(
    'Variation strength (0-1); above 0 every image keeps the base seed.',
  ),
  batch_size: int(LIMITS.batchSize.min, LIMITS.batchSize.max).describe('Images per GPU call (1-8).'),
  n_iter: int(LIMITS.nIter.min, LIMITS.nIter.max).describe(
    'GPU calls (1-100). Images = batch_size x n_iter, at most 800.',
  ),
  restore_faces: z.boolean(),
  tiling: z.boolean(),
  enable_hr: z.boolean().describe('Hires fix: a second, upscaled pass.'),
  hr_scale: decimal(1, 4).describe('Hires upscale factor (1-4).'),
  hr_upscaler: name().describe('Upscaler, e.g. "Latent", "R-ESRGAN 4x+".'),
  hr_second_pass_steps: int(0, LIMITS.steps.max).describe('Hires steps; 0 = same as steps.'),
  denoising_strength: decimal(0, 1).describe('Hires denoising (0-1).'),
  hr_resize_x: hiresSide('width'),
  hr_resize_y: hiresSide('height'),
  hr_sampler_name: name().describe('Hires sampler; default = the same.'),
  hr_prompt: text().describe('Hires prompt; empty = the main prompt.'),
  hr_negative_prompt: text(),
  hr_cfg: decimal(0, 30).describe('Hires CFG (Forge/reForge); default = cfg_scale.'),
  adetailer: z
    .array(AdetailerModel)
    .max(MAX_ADETAILER_MODELS)
    .describe(`ADetailer models 1-${MAX_ADETAILER_MODELS} in order, each with its own options.`),
  controlnet: z
    .array(ControlNetUnitInput)
    .max(MAX_CONTROLNET_UNITS)
    .describe(`ControlNet units 1-${MAX_CONTROLNET_UNITS}; each needs one of image_url, image_key or image.`),
  ...RegionalPrompterShape,
  ...DynamicPromptsShape,
};

const optionalAll = <T extends Record<string, z.ZodType>>(shape: T) =>
  Object.fromEntries(Object.entries(shape).map(([k, v]) => [k, v.optional()])) as {
    [K in keyof T]: z.ZodOptional<T[K]>;
  };

/** Arguments of `sdreforge_batch_start`. */
export const StartInputShape = {
  preset: name()
    .optional()
    .describe('Server-side preset (see sdreforge_presets); your arguments override it.'),
  ...optionalAll(GenerationFields),
  prompt: GenerationFields.prompt,
};
export const StartInput = z.object(StartInputShape);
export type StartInput = z.infer<typeof StartInput>;

/** Fields a preset may set: everything but the prompt itself, plus its prompt decorations. */
export const PresetSettings = z.object({
  ...optionalAll(GenerationFields),
  prompt: z.string().max(LIMITS.promptChars).optional(),
  prompt_prefix: text().optional(),
  prompt_suffix: text().optional(),
});
export type PresetSettings = z.infer<typeof PresetSettings>;

/** The merged parameters a job records and its workers use: the basics always concrete. */
export const GenerationParams = z.object({
  ...optionalAll(GenerationFields),
  prompt: z.string(),
  negative_prompt: z.string(),
  width: GenerationFields.width,
  height: GenerationFields.height,
  steps: GenerationFields.steps,
  cfg_scale: GenerationFields.cfg_scale,
  sampler_name: GenerationFields.sampler_name,
  seed: z.number().int().nonnegative(),
  batch_size: GenerationFields.batch_size,
  n_iter: GenerationFields.n_iter,
  subseed: z.number().int().nonnegative().optional(),
  controlnet: z.array(ControlNetUnit).max(MAX_CONTROLNET_UNITS).optional(),
});
export type GenerationParams = z.infer<typeof GenerationParams>;
