import sharp from 'sharp';
import { digitLabel } from '../../core/contact-sheet/digits.ts';
import { cellOrigin, SHEET_LIMITS, type SheetLayout, sheetLayout } from '../../core/contact-sheet/layout.ts';
import type { ContactSheetRenderer, SheetSource } from '../../core/ports.ts';

/** Bytes a model is handed inline; a larger sheet is drawn again at a smaller size. */
export const MAX_SHEET_BYTES = 900 * 1024;

/**
 * One PNG grid of thumbnails, each labelled with its seed. Images are loaded a few at a time and
 * only their thumbnails are kept, so an 800-image job fits in a small Lambda.
 */
export const renderContactSheet: ContactSheetRenderer = async (images, aspect) => {
  const thumbs = new Map<number, Buffer>();
  let layout = sheetLayout(images.length, aspect);
  for (let side: number = SHEET_LIMITS.maxSide; ; side = Math.floor(side * 0.75)) {
    layout = sheetLayout(images.length, aspect, side);
    thumbs.clear();
    await forEachLimited(images, 8, async (image, i) => {
      thumbs.set(i, await thumbnail(await image.load(), layout));
    });
    const png = await compose(images, thumbs, layout);
    if (png.length <= MAX_SHEET_BYTES || side < 256)
      return { png, width: layout.width, height: layout.height };
  }
};

async function thumbnail(bytes: Uint8Array, layout: SheetLayout): Promise<Buffer> {
  return sharp(bytes)
    .resize(layout.thumbWidth, layout.thumbHeight, { fit: 'contain', background: '#222222' })
    .removeAlpha()
    .png()
    .toBuffer();
}

async function forEachLimited<T>(items: T[], limit: number, run: (item: T, i: number) => Promise<void>) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await run(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

async function compose(
  images: SheetSource[],
  thumbs: Map<number, Buffer>,
  layout: SheetLayout,
): Promise<Buffer> {
  const composites = await Promise.all(
    images.map(async (image, i) => {
      const { left, top } = cellOrigin(layout, i);
      const thumb = thumbs.get(i) as Buffer;
      const label = await sharp(
        Buffer.from(digitLabel(String(image.seed), layout.thumbWidth, SHEET_LIMITS.labelHeight)),
        {
          raw: { width: layout.thumbWidth, height: SHEET_LIMITS.labelHeight, channels: 3 },
        },
      )
        .png()
        .toBuffer();
      return [
        { input: thumb, left, top },
        { input: label, left, top: top + layout.thumbHeight },
      ];
    }),
  );
  return (
    sharp({
      create: { width: layout.width, height: layout.height, channels: 3, background: '#111111' },
    })
      .composite(composites.flat())
      // Compositing adds an alpha channel the sheet has no use for.
      .removeAlpha()
      .png({ compressionLevel: 9, palette: images.length > 64 })
      .toBuffer()
  );
}
