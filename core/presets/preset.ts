import { z } from 'zod';

/** A preset file in sdreforge's YAML shape (name, description, type, base_settings, extensions). */
export const PresetFile = z.object({
  name: z
    .string()
    .min(1)
    .max(128)
    .regex(/^[\w.-]+$/, 'letters, digits, _ . - only'),
  description: z.string().max(2000).optional(),
  type: z.literal('txt2img', { error: 'sdbatch runs txt2img presets only' }),
  base_settings: z.record(z.string(), z.unknown()),
  prompt_template: z
    .object({
      positive_prefix: z.string().optional(),
      positive_suffix: z.string().optional(),
      negative: z.string().optional(),
    })
    .optional(),
  extensions: z
    .object({
      adetailer: z
        .object({
          enabled: z.boolean().optional(),
          max_models: z.number().int().optional(),
          models: z.array(z.record(z.string(), z.unknown())).optional(),
        })
        .optional(),
      controlnet: z
        .object({
          enabled: z.boolean().optional(),
          max_units: z.number().int().optional(),
          units: z.array(z.record(z.string(), z.unknown())).optional(),
        })
        .optional(),
      regional_prompter: z.record(z.string(), z.unknown()).optional(),
      dynamic_prompts: z.record(z.string(), z.unknown()).optional(),
    })
    .optional(),
});
export type PresetFile = z.infer<typeof PresetFile>;
