import { z } from 'zod';

/** Dynamic Prompts, with sdreforge's parameter names. */
export const DynamicPromptsShape = {
  enable_dynamic_prompts: z
    .boolean()
    .optional()
    .describe('Expand {a|b} and __wildcards__ (random mode: image k picks from its own seed).'),
  combinatorial_generation: z
    .boolean()
    .optional()
    .describe('Every combination instead of random picks; the image count then follows the combinations.'),
  max_generations: z
    .number()
    .int()
    .min(0)
    .max(1000)
    .optional()
    .describe('Cap of combinatorial images; 0 = all.'),
  magic_prompt: z.boolean().optional(),
  use_fixed_seed: z.boolean().optional().describe('Same seed for every image (breaks seed + k).'),
};
type DynamicPrompts = { [K in keyof typeof DynamicPromptsShape]?: z.infer<(typeof DynamicPromptsShape)[K]> };

/** The title SD WebUI lists carries the version; the worker replaces it with the host's own. */
export const DYNAMIC_PROMPTS_DEFAULT_TITLE = 'Dynamic Prompts v2.17.1';

/** The extension's 18 positional args, UI defaults where the caller said nothing. */
export function dynamicPromptsScript(p: DynamicPrompts, title = DYNAMIC_PROMPTS_DEFAULT_TITLE) {
  const given = Object.keys(DynamicPromptsShape).some((k) => p[k as keyof DynamicPrompts] !== undefined);
  if (!given) return undefined;
  const args = [
    p.enable_dynamic_prompts ?? true,
    p.combinatorial_generation ?? false,
    1,
    p.magic_prompt ?? false,
    false,
    false,
    1.1,
    1.5,
    100,
    0.7,
    p.use_fixed_seed ?? false,
    false,
    true,
    false,
    false,
    p.max_generations ?? 0,
    'Gustavosta/MagicPrompt-Stable-Diffusion',
    '',
  ];
  return { [title]: { args } };
}
