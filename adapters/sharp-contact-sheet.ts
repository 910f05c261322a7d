import sharp from 'sharp';
import { digitLabel } from '../core/contact-sheet/digits.ts';
import { cellOrigin, SHEET_LIMITS, type SheetLayout, sheetLayout } from '../core/contact-sheet/layout.ts';
import type { ContactSheetRenderer } from '../core/ports.ts';

/** Bytes a model is handed inline; a larger sheet is drawn again at a smaller size. */
export const MAX_SHEET_BYTES = 900 * 1024;

// Every image is read once, so libvips' operation cache (up to 50 MB of decoded pixels by
// default) never hits; it only holds memory the process cannot give back between jobs.
sharp.cache(false);

const CHANNELS = 3;
const SHEET_BACKGROUND = 0x11;

/**
 * One PNG grid of thumbnails, each labelled with its seed. Images are loaded a few at a time and
 * only their thumbnails are kept, so an 800-image job fits in a small Lambda. Thumbnails and
 * labels are copied into one raw RGB canvas and encoded once (the same pixels as before): a
 * libvips composite of 1,600 PNG overlays took seconds, and in a long-lived process (the embedded
 * stack) each one left 150-250 MB of native memory behind that never came back.
 */
export const renderContactSheet: ContactSheetRenderer = async (images, aspect) => {
  for (let side: number = SHEET_LIMITS.maxSide; ; side = Math.floor(side * 0.75)) {
    const layout = sheetLayout(images.length, aspect, side);
    const canvas = Buffer.alloc(layout.width * layout.height * CHANNELS, SHEET_BACKGROUND);
    await forEachLimited(images, 8, async (image, i) => {
      const { left, top } = cellOrigin(layout, i);
      paint(canvas, layout, await thumbnail(await image.load(), layout), left, top, layout.thumbHeight);
      const label = digitLabel(String(image.seed), layout.thumbWidth, SHEET_LIMITS.labelHeight);
      paint(canvas, layout, label, left, top + layout.thumbHeight, SHEET_LIMITS.labelHeight);
    });
    const png = await sharp(canvas, {
      raw: { width: layout.width, height: layout.height, channels: CHANNELS },
    })
      .png({ compressionLevel: 9, palette: images.length > 64 })
      .toBuffer();
    if (png.length <= MAX_SHEET_BYTES || side < 256)
      return { png, width: layout.width, height: layout.height };
  }
};

/** The image fitted into the thumbnail box, as raw RGB of exactly thumbWidth x thumbHeight. */
async function thumbnail(bytes: Uint8Array, layout: SheetLayout): Promise<Uint8Array> {
  const { data, info } = await sharp(bytes)
    .resize(layout.thumbWidth, layout.thumbHeight, { fit: 'contain', background: '#222222' })
    .toColourspace('srgb')
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== CHANNELS || info.width !== layout.thumbWidth || info.height !== layout.thumbHeight) {
    throw new Error(`thumbnail came out ${info.width}x${info.height}x${info.channels}`);
  }
  return data;
}

/** Copies a raw RGB block thumbWidth wide and `height` rows high into the canvas at (left, top). */
function paint(
  canvas: Buffer,
  layout: SheetLayout,
  block: Uint8Array,
  left: number,
  top: number,
  height: number,
) {
  const rowBytes = layout.thumbWidth * CHANNELS;
  for (let y = 0; y < height; y++) {
    canvas.set(
      block.subarray(y * rowBytes, (y + 1) * rowBytes),
      ((top + y) * layout.width + left) * CHANNELS,
    );
  }
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
