import sharp from 'sharp';

/**
 * An image as a JPEG of at most `maxBytes` and `maxSide` pixels a side, drawn smaller until it
 * fits: what a model is shown inline has to fit its client's cap on a tool result.
 */
export async function shrinkToJpeg(
  bytes: Uint8Array,
  maxBytes: number,
  maxSide = 1024,
): Promise<{ jpeg: Buffer; width: number; height: number }> {
  const meta = await sharp(bytes).metadata();
  let side = Math.min(maxSide, Math.max(meta.width ?? maxSide, meta.height ?? maxSide));
  for (;;) {
    const { data, info } = await sharp(bytes)
      .resize(side, side, { fit: 'inside', withoutEnlargement: true })
      .flatten({ background: '#222222' })
      .jpeg({ quality: 70, mozjpeg: true })
      .toBuffer({ resolveWithObject: true });
    if (data.length <= maxBytes || side <= 64) return { jpeg: data, width: info.width, height: info.height };
    side = Math.floor(side * 0.75);
  }
}
