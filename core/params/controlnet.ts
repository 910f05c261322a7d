import { z } from 'zod';
import { decimal } from './decimal.ts';

/** ControlNet units SD WebUI takes by default (option control_net_unit_count, up to 10). */
export const MAX_CONTROLNET_UNITS = 3;
/** A data URL image rides in the request only up to this size; larger ones go by URL or key. */
export const MAX_DATA_URL_BYTES = 2 * 1024 * 1024;

const RESIZE_MODES = ['Just Resize', 'Crop and Resize', 'Resize and Fill'] as const;
const CONTROL_MODES = ['Balanced', 'My prompt is more important', 'ControlNet is more important'] as const;

/** The three ways to give a unit's control image, each defined once. */
const imageSources = {
  image_url: z
    .url({ protocol: /^https?$/ })
    .max(2048)
    .describe('An https URL of the control image.'),
  image_key: z.string().min(1).max(512).describe('A key of an object already in the image bucket.'),
  image: z
    .string()
    .max(Math.ceil((MAX_DATA_URL_BYTES * 4) / 3) + 64)
    .regex(
      /^data:image\/(png|jpeg|webp);base64,[A-Za-z0-9+/=]+$/,
      'must be a base64 data URL of a png, jpeg or webp',
    )
    .describe(`A data URL (data:image/png;base64,...) of at most ${MAX_DATA_URL_BYTES / 1024 / 1024} MiB.`),
};

/** Where a unit's control image comes from; the worker fetches it and inlines it for SD WebUI. */
export const ControlNetImageSource = z.union([
  z.object({ image_url: imageSources.image_url }),
  z.object({ image_key: imageSources.image_key }),
  z.object({ image: imageSources.image }),
]);

const UnitFields = z.object({
  module: z.string().min(1).max(128).optional().describe('Preprocessor, e.g. "canny", "openpose", "none".'),
  model: z
    .string()
    .min(1)
    .max(256)
    .optional()
    .describe(
      'ControlNet model as SD WebUI lists it, e.g. "control_v11p_sd15_canny [d14c016b]"; may come from the preset.',
    ),
  weight: decimal(0, 2).optional().describe('Control weight (default 1).'),
  guidance_start: decimal(0, 1).optional(),
  guidance_end: decimal(0, 1).optional(),
  control_mode: z.enum(CONTROL_MODES).optional(),
  resize_mode: z.enum(RESIZE_MODES).optional(),
  pixel_perfect: z.boolean().optional(),
  processor_res: z.number().int().min(64).max(2048).optional(),
  threshold_a: decimal(-1, 1024).optional(),
  threshold_b: decimal(-1, 1024).optional(),
});

/** A unit as a caller or preset gives it: fields it leaves out may come from the other. */
export const ControlNetUnitInput = UnitFields.extend({
  image_url: imageSources.image_url.optional(),
  image_key: imageSources.image_key.optional(),
  image: imageSources.image.optional(),
});
export type ControlNetUnitInput = z.infer<typeof ControlNetUnitInput>;

/** A complete unit after merging: a model and exactly one image source. */
export const ControlNetUnit = UnitFields.extend({ model: z.string().min(1).max(256) }).and(
  ControlNetImageSource,
);
export type ControlNetUnit = z.infer<typeof ControlNetUnit>;

/** The unit as stored with the job: its image is a bucket key or an https URL, never bytes. */
export type StoredControlNetUnit = Exclude<ControlNetUnit, { image: string }>;

/** `{"ControlNet": {"args": [unit...]}}` with each image already inlined as base64. */
export function controlNetScript(
  units: StoredControlNetUnit[] | undefined,
  inlineImages: string[],
): Record<string, unknown> | undefined {
  if (!units || units.length === 0) return undefined;
  const args = units.map((unit, i) => {
    const {
      image_url: _u,
      image_key: _k,
      ...fields
    } = unit as StoredControlNetUnit & {
      image_url?: string;
      image_key?: string;
    };
    // Mikubill defaults `enabled` to false and Forge to true: always send it.
    return { enabled: true, module: 'none', ...fields, image: inlineImages[i] };
  });
  return { ControlNet: { args } };
}
