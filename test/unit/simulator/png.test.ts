import { describe, expect, it } from 'vitest';
import { encodePicture, renderPicture } from '../../../local/simulator/picture.ts';
import { encodePng, encodePngAsync, readPng } from '../../../local/simulator/png.ts';

describe('png', () => {
  it('round-trips size and text chunks', () => {
    const rgb = new Uint8Array(5 * 3 * 3).fill(200);
    const png = encodePng({
      width: 5,
      height: 3,
      rgb,
      text: { parameters: 'a cat\nSeed: 7', Software: 'sim' },
    });
    expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
    expect(readPng(png)).toEqual({
      width: 5,
      height: 3,
      text: { parameters: 'a cat\nSeed: 7', Software: 'sim' },
    });
  });

  it('keeps non-Latin-1 text (written as iTXt, as PIL does)', () => {
    const png = encodePng({
      width: 1,
      height: 1,
      rgb: new Uint8Array(3),
      text: { parameters: '猫, ネコ\nSeed: 1' },
    });
    expect(png.includes(Buffer.from('iTXt'))).toBe(true);
    expect(readPng(png).text.parameters).toBe('猫, ネコ\nSeed: 1');
  });

  it('rejects what is not a PNG, and a corrupted chunk', () => {
    expect(() => readPng(Buffer.from('GIF89a not a png'))).toThrow(/signature/);
    const png = encodePng({ width: 2, height: 2, rgb: new Uint8Array(12), text: { k: 'v' } });
    expect(() => readPng(png.subarray(0, 40))).toThrow(/truncated/);
    const bad = Buffer.from(png);
    bad[40] = (bad[40] ?? 0) ^ 0xff;
    expect(() => readPng(bad)).toThrow(/CRC/);
  });

  it('rejects a pixel buffer of the wrong length', () => {
    expect(() => encodePng({ width: 2, height: 2, rgb: new Uint8Array(11), text: {} })).toThrow(RangeError);
  });
});

describe('picture', () => {
  it('is deterministic in (prompt, seed) and differs between seeds', () => {
    const a = renderPicture('a cat', 1, 64, 32);
    expect(a).toHaveLength(64 * 32 * 3);
    expect(renderPicture('a cat', 1, 64, 32)).toEqual(a);
    expect(renderPicture('a cat', 2, 64, 32)).not.toEqual(a);
    expect(renderPicture('a dog', 1, 64, 32)).not.toEqual(a);
  });

  it('renders a 512x512 PNG with the infotext, compressed off the event loop', async () => {
    const png = await encodePicture({
      prompt: 'a cat',
      seed: 9,
      width: 512,
      height: 512,
      infotext: 'a cat\nSeed: 9',
    });
    expect(readPng(png)).toEqual({ width: 512, height: 512, text: { parameters: 'a cat\nSeed: 9' } });
    const same = encodePng({ width: 512, height: 512, rgb: renderPicture('a cat', 9, 512, 512), text: {} });
    expect(
      await encodePngAsync({ width: 512, height: 512, rgb: renderPicture('a cat', 9, 512, 512), text: {} }),
    ).toEqual(same);
  });

  it('leaves a partly sampled picture different from the finished one, and the same each time', async () => {
    const spec = { prompt: 'a cat', seed: 9, width: 64, height: 64, infotext: 'x' };
    const partial = await encodePicture({ ...spec, partial: true });
    expect(partial).not.toEqual(await encodePicture(spec));
    expect(await encodePicture({ ...spec, partial: true })).toEqual(partial);
  });
});
