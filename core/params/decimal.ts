import { z } from 'zod';

/** The smallest magnitude a stored number may have besides 0 (DynamoDB stops at 1e-130). */
export const SMALLEST_DECIMAL = 1e-6;

/**
 * A bounded real number that is 0 or at least 1e-6 in size: finer values mean nothing to SD WebUI
 * and some (5e-324) cannot even be stored.
 */
export const decimal = (min: number, max: number) =>
  z
    .number()
    .min(min)
    .max(max)
    .refine(
      (v) => v === 0 || Math.abs(v) >= SMALLEST_DECIMAL,
      `must be 0 or at least ${SMALLEST_DECIMAL} in size`,
    );
