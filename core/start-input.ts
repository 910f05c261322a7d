import { z } from 'zod';
import { LIMITS } from './limits.ts';

const side = (name: string) =>
  z
    .number()
    .int()
    .min(LIMITS.side.min)
    .max(LIMITS.side.max)
    .multipleOf(LIMITS.side.multipleOf)
    .describe(`Image ${name} in pixels, a multiple of 8 from ${LIMITS.side.min} to ${LIMITS.side.max}.`);

/** Arguments of `sdreforge_batch_start`: the one definition of their types, limits and descriptions. */
export const StartInputShape = {
  prompt: z
    .string()
    .min(1)
    .max(LIMITS.promptChars)
    .describe('What to draw. SD WebUI prompt syntax, including (emphasis:1.2) and <lora:name:0.8>.'),
  negative_prompt: z.string().max(LIMITS.promptChars).optional().describe('What to avoid.'),
  width: side('width').optional(),
  height: side('height').optional(),
  steps: z
    .number()
    .int()
    .min(LIMITS.steps.min)
    .max(LIMITS.steps.max)
    .optional()
    .describe('Sampling steps per image (1-150). More steps take proportionally longer.'),
  cfg_scale: z
    .number()
    .min(LIMITS.cfgScale.min)
    .max(LIMITS.cfgScale.max)
    .optional()
    .describe('How strictly to follow the prompt (1-30).'),
  sampler_name: z
    .string()
    .min(1)
    .max(LIMITS.nameChars)
    .optional()
    .describe('Sampler, e.g. "Euler a" or "DPM++ 2M".'),
  scheduler: z
    .string()
    .min(1)
    .max(LIMITS.nameChars)
    .optional()
    .describe('Schedule type, e.g. "Karras" or "Automatic".'),
  seed: z
    .number()
    .int()
    .min(LIMITS.seed.min)
    .max(LIMITS.seed.max)
    .optional()
    .describe('Base seed; -1 (default) picks a random one. Image k of the job gets seed + k.'),
  batch_size: z
    .number()
    .int()
    .min(LIMITS.batchSize.min)
    .max(LIMITS.batchSize.max)
    .optional()
    .describe('Images generated together in one GPU call (1-8).'),
  n_iter: z
    .number()
    .int()
    .min(LIMITS.nIter.min)
    .max(LIMITS.nIter.max)
    .optional()
    .describe('Number of GPU calls (1-100). Total images = batch_size x n_iter, up to 800.'),
};

export const StartInput = z.object(StartInputShape);
export type StartInput = z.infer<typeof StartInput>;
