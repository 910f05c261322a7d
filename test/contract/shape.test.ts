import { describe, expect, it } from 'vitest';
import { shapeDiff } from './shape.ts';

describe('shapeDiff', () => {
  const fixture = {
    images: ['<png>'],
    info: '{"seed":1,"extra":{}}',
    list: [
      { name: 'a', url: null },
      { name: 'b', url: 'x' },
    ],
  };

  it('finds no difference between answers of one shape', () => {
    const actual = { images: [], info: '{"seed":2,"extra":{}}', list: [{ name: 'c', url: 'y' }] };
    expect(shapeDiff(fixture, actual, { jsonStrings: ['info'] })).toEqual([]);
  });

  it('reports a missing key, an extra key and a type the fixture never has', () => {
    const actual = { images: [1], info: '{"seed":"2","extra":{},"more":true}', list: [{ name: 'c' }] };
    expect(shapeDiff(fixture, actual, { jsonStrings: ['info'] }).sort()).toEqual([
      'images[*]: number, the fixture has string',
      'info.more: not in the fixture',
      'info.seed: string, the fixture has number',
      'list[*].url: missing',
    ]);
  });

  it('compares a JSON string as a string unless told to parse it', () => {
    expect(shapeDiff({ info: '{"a":1}' }, { info: 'not json' })).toEqual([]);
    expect(() => shapeDiff({ info: '{"a":1}' }, { info: 'not json' }, { jsonStrings: ['info'] })).toThrow();
  });

  it('lets map keys vary and open objects hold fewer keys', () => {
    const samplers = [
      { name: 'a', options: { scheduler: 'karras' } },
      { name: 'b', options: {} },
    ];
    expect(shapeDiff(samplers, [{ name: 'c', options: { other: 'x' } }], { maps: ['[*].options'] })).toEqual(
      [],
    );
    expect(shapeDiff({ a: 1, b: 'x' }, { a: 2 }, { open: [''] })).toEqual([]);
    expect(shapeDiff({ a: 1, b: 'x' }, { a: 2 })).toEqual(['b: missing']);
  });
});
