import { describe, expect, it } from 'vitest';
import { unknownName } from '../../../core/params/unknown-name.ts';

const known = ['batch_size', 'n_iter', 'negative_prompt', 'sampler_name', 'status', 'start'];

describe('an unknown name', () => {
  it('offers the nearest known one for a misspelling, a swap or a name cut short', () => {
    expect(unknownName('argument', 'batch_sise', known)).toBe(
      'unknown argument batch_sise; did you mean batch_size?',
    );
    expect(unknownName('command', 'stauts', known)).toBe('unknown command stauts; did you mean status?');
    expect(unknownName('argument', 'sampler', known)).toBe(
      'unknown argument sampler; did you mean sampler_name?',
    );
  });

  it('offers nothing when no known name is near', () => {
    expect(unknownName('argument', 'colour_scheme', known)).toBe('unknown argument colour_scheme');
    expect(unknownName('flag', '--x', [])).toBe('unknown flag --x');
  });
});
