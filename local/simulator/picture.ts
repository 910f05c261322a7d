import { createHash } from 'node:crypto';
import { encodePngAsync } from './png.ts';
import { encodeLossy, type SamplesFormat } from './samples-format.ts';

/**
 * A deterministic stand-in for a generated image: a diagonal two-colour gradient with a checker
 * overlay, all taken from a hash of (prompt, seed). Same inputs, same pixels.
 */
export function renderPicture(prompt: string, seed: number, width: number, height: number): Uint8Array {
  const h = createHash('sha256').update(`${seed}\0${prompt}`).digest();
  const diagonal = width + height - 1;
  const light = new Uint8Array(diagonal * 3);
  const dark = new Uint8Array(diagonal * 3);
  for (let d = 0; d < diagonal; d++) {
    const t = diagonal > 1 ? d / (diagonal - 1) : 0;
    for (let c = 0; c < 3; c++) {
      const from = h[c] ?? 0;
      const v = from + ((h[c + 3] ?? 0) - from) * t;
      light[d * 3 + c] = v;
      dark[d * 3 + c] = v * 0.7;
    }
  }
  const shift = 3 + ((h[6] ?? 0) & 3); // checker cells of 8 to 64 pixels
  const offsetX = h[7] ?? 0;
  const offsetY = h[8] ?? 0;
  const rgb = new Uint8Array(width * height * 3);
  // Each row is a few runs (one per checker cell) copied straight out of the gradient tables.
  for (let y = 0, o = 0; y < height; y++) {
    const row = (y + offsetY) >> shift;
    for (let x = 0; x < width; ) {
      const cell = (x + offsetX) >> shift;
      const end = Math.min(width, ((cell + 1) << shift) - offsetX);
      const lut = (cell ^ row) & 1 ? dark : light;
      rgb.set(lut.subarray((x + y) * 3, (end + y) * 3), o);
      o += (end - x) * 3;
      x = end;
    }
  }
  return rgb;
}

export interface PictureSpec {
  prompt: string;
  seed: number;
  width: number;
  height: number;
  /** Goes into the PNG's `parameters` text chunk, or a JPEG's or WebP's EXIF UserComment, as SD WebUI does. */
  infotext: string;
  /** The samples_format option's; PNG unless said. */
  format?: SamplesFormat;
  /** The jpeg_quality option's, for JPEG and WebP; 80 unless said. */
  quality?: number;
  /** Sampling stopped early (interrupt, skip): the picture is left noisy, unlike the finished one. */
  partial?: boolean;
}

/** Grey speckles over a fifth of the pixels: what an interrupted sampler leaves behind. */
function speckle(rgb: Uint8Array, width: number): void {
  for (let i = 0; i < rgb.length / 3; i++) {
    if (((i % width) * 7 + Math.floor(i / width) * 13) % 5 === 0) rgb.fill(128, i * 3, i * 3 + 3);
  }
}

/**
 * The image SD WebUI would return, encoded on libuv's thread pool: the simulator shares its event
 * loop with the stack.
 */
export function encodePicture(spec: PictureSpec): Promise<Buffer> {
  const { prompt, seed, width, height, infotext, partial, format = 'png', quality = 80 } = spec;
  const rgb = renderPicture(prompt, seed, width, height);
  if (partial) speckle(rgb, width);
  if (format === 'png') return encodePngAsync({ width, height, rgb, text: { parameters: infotext } });
  return encodeLossy(format, { width, height, rgb, infotext, quality });
}
