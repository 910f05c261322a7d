import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { renderContactSheet } from '../../../adapters/sharp-contact-sheet.ts';
import { cellOrigin, sheetLayout } from '../../../core/contact-sheet/layout.ts';

const png = (channels: 1 | 2 | 3 | 4, value: number) =>
  sharp(Buffer.alloc(40 * 40 * channels, value), { raw: { width: 40, height: 40, channels } })
    .png()
    .toBuffer();

describe('renderContactSheet', () => {
  it('draws grey, grey with alpha, RGB and RGBA images alike, each in its own cell', async () => {
    const inputs = await Promise.all([png(1, 200), png(2, 200), png(3, 200), png(4, 200)]);
    const sheet = await renderContactSheet(
      inputs.map((bytes, i) => ({ seed: i, load: async () => bytes })),
      1,
    );
    const layout = sheetLayout(4, 1);
    const { data, info } = await sharp(sheet.png).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, info.channels]).toEqual([layout.width, layout.height, 3]);
    for (let i = 0; i < 4; i++) {
      // The middle of each thumbnail is the image's own grey (give or take a colour conversion's
      // rounding), whatever its bands were.
      const { left, top } = cellOrigin(layout, i);
      const at = ((top + (layout.thumbHeight >> 1)) * info.width + left + (layout.thumbWidth >> 1)) * 3;
      for (const v of data.subarray(at, at + 3)) expect(Math.abs(v - 200)).toBeLessThanOrEqual(4);
    }
  });
});
