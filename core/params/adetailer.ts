import { z } from 'zod';
import { decimal } from './decimal.ts';

/** ADetailer tabs SD WebUI takes by default (option ad_max_models, 1-15). */
export const MAX_ADETAILER_MODELS = 4;

/** One ADetailer tab; field names are the extension's without the `ad_` prefix. */
export const AdetailerModel = z.object({
  model: z
    .string()
    .min(1)
    .max(128)
    .describe('Detector, e.g. "face_yolov8n.pt" or "hand_yolov8n.pt"; "None" disables the slot.'),
  prompt: z
    .string()
    .max(4000)
    .optional()
    .describe('Inpainting prompt for the detected areas; empty = the main prompt.'),
  negative_prompt: z.string().max(4000).optional(),
  confidence: decimal(0, 1).optional().describe('Detection threshold (default 0.3).'),
  mask_k: z
    .number()
    .int()
    .min(0)
    .max(100)
    .optional()
    .describe('Keep only the k largest/most confident masks; 0 = all.'),
  mask_min_ratio: decimal(0, 1).optional(),
  mask_max_ratio: decimal(0, 1).optional(),
  dilate_erode: z.number().int().min(-128).max(128).optional(),
  mask_blur: z.number().int().min(0).max(64).optional(),
  denoising_strength: decimal(0, 1).optional().describe('Inpainting strength (default 0.4).'),
  inpaint_only_masked: z.boolean().optional(),
  inpaint_only_masked_padding: z.number().int().min(0).max(256).optional(),
  steps: z.number().int().min(1).max(150).optional().describe('Own step count for the inpainting pass.'),
  cfg_scale: decimal(1, 30).optional(),
});
export type AdetailerModel = z.infer<typeof AdetailerModel>;

/** Keys that switch an ad_* value on only when given (the extension's ad_use_* flags). */
const USE_FLAGS: Partial<Record<keyof AdetailerModel, string>> = {
  steps: 'ad_use_steps',
  cfg_scale: 'ad_use_cfg_scale',
};

/** `{"ADetailer": {"args": [enable, skip_img2img, tab1, tab2, ...]}}`, "None" slots left out. */
export function adetailerScript(models: AdetailerModel[] | undefined): Record<string, unknown> | undefined {
  const active = (models ?? []).filter((m) => m.model !== 'None');
  if (active.length === 0) return undefined;
  const tabs = active.map((m) => {
    const tab: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(m)) {
      if (value === undefined) continue;
      tab[`ad_${key}`] = value;
      const flag = USE_FLAGS[key as keyof AdetailerModel];
      if (flag) tab[flag] = true;
    }
    return tab;
  });
  return { ADetailer: { args: [true, false, ...tabs] } };
}
