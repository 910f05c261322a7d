import { z } from 'zod';
import { unknownName } from '../core/params/unknown-name.ts';

/**
 * A tool's arguments, strict: a misspelt argument (`batch_sise: 4`) would otherwise be dropped
 * and the call go on without it. Refused instead, naming what it was probably meant to be.
 */
export function toolInput<Shape extends z.ZodRawShape>(shape: Shape) {
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? issue.keys.map((key) => unknownName('argument', key, Object.keys(shape))).join('; ')
        : undefined,
  });
}
