import { z } from 'zod';

/** Regional Prompter, with sdreforge's parameter names (rp_*). */
export const RegionalPrompterShape = {
  rp_active: z
    .boolean()
    .optional()
    .describe('Regional Prompter on. Split the prompt with BREAK / ADDCOL / ADDROW.'),
  rp_debug: z.boolean().optional(),
  rp_mode: z.enum(['Matrix', 'Mask', 'Prompt']).optional(),
  rp_matrix_submode: z.enum(['Columns', 'Rows', 'Random']).optional(),
  rp_mask_submode: z.enum(['Mask']).optional(),
  rp_prompt_submode: z.enum(['Prompt', 'Prompt-Ex']).optional(),
  rp_divide_ratio: z.string().max(200).optional().describe('e.g. "1,1" or "1,2;1,1".'),
  rp_base_ratio: z.string().max(100).optional().describe('e.g. "0.2".'),
  rp_use_base: z.boolean().optional(),
  rp_use_common: z.boolean().optional(),
  rp_use_ncommon: z.boolean().optional(),
  rp_calc_mode: z.enum(['Attention', 'Latent']).optional(),
  rp_not_change_and: z.boolean().optional().describe("Don't turn AND into BREAK."),
  rp_lora_stop_step: z.number().int().min(0).max(150).optional(),
  rp_lora_hires_stop_step: z.number().int().min(0).max(150).optional(),
  rp_threshold: z.string().max(50).optional().describe('Prompt-mode threshold, e.g. "0.4".'),
};
type RegionalPrompter = {
  [K in keyof typeof RegionalPrompterShape]?: z.infer<(typeof RegionalPrompterShape)[K]>;
};

/**
 * The extension's 20 positional args. Slots 13/14 are "LoRA in negative" in current releases
 * and the LoRA stop steps are 17/18 (sdreforge puts them at 13/14, which RP reads differently).
 */
export function regionalPrompterScript(p: RegionalPrompter): Record<string, unknown> | undefined {
  if (!p.rp_active) return undefined;
  const args = [
    true,
    p.rp_debug ?? false,
    p.rp_mode ?? 'Matrix',
    p.rp_matrix_submode ?? 'Columns',
    p.rp_mask_submode ?? 'Mask',
    p.rp_prompt_submode ?? 'Prompt',
    p.rp_divide_ratio ?? '1,1',
    p.rp_base_ratio ?? '0.2',
    p.rp_use_base ?? false,
    p.rp_use_common ?? false,
    p.rp_use_ncommon ?? false,
    p.rp_calc_mode ?? 'Attention',
    p.rp_not_change_and ?? false,
    '0',
    '0',
    p.rp_threshold ?? '0.4',
    '',
    String(p.rp_lora_stop_step ?? 0),
    String(p.rp_lora_hires_stop_step ?? 0),
    false,
  ];
  return { 'Regional Prompter': { args } };
}
