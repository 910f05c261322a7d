import { exifUserComment } from './exif.ts';
import type { ImageFormat } from './formats.ts';

/**
 * The generation parameters an image carries, where SD WebUI writes them (modules/images.py,
 * read_info_from_image): a PNG's "parameters" text chunk, a JPEG's or WebP's EXIF UserComment.
 * Only the container's chunks or segments are walked, never the pixels; undefined when there is
 * none or the container is malformed.
 */
export function embeddedInfotext(format: ImageFormat, bytes: Uint8Array): string | undefined {
  try {
    const text = READERS[format](bytes);
    return text ? text : undefined;
  } catch {
    return undefined;
  }
}

const READERS: Record<ImageFormat, (bytes: Uint8Array) => string | undefined> = {
  png: pngParameters,
  jpeg: (bytes) => {
    const app1 = jpegExif(bytes);
    return app1 && exifUserComment(app1);
  },
  webp: (bytes) => {
    const chunk = webpChunk(bytes, 'EXIF');
    return chunk && exifUserComment(chunk);
  },
};

const KEY = 'parameters';
/** ISO-8859-1, byte for code point (TextDecoder's "latin1" is windows-1252). */
const latin1 = (b: Uint8Array) => Array.from(b, (c) => String.fromCharCode(c)).join('');
const ascii = (b: Uint8Array, from: number, to: number) => latin1(b.subarray(from, to));

/**
 * The tEXt or iTXt "parameters" chunk: PIL writes tEXt, or an uncompressed iTXt when the text is
 * not Latin-1 (SD WebUI never asks for compressed text, so a compressed one is not read).
 */
function pngParameters(png: Uint8Array): string | undefined {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  for (let at = 8; at + 8 <= png.length; ) {
    const length = view.getUint32(at);
    const type = ascii(png, at + 4, at + 8);
    if (type === 'IEND') break;
    if (type === 'tEXt' || type === 'iTXt') {
      const data = png.subarray(at + 8, at + 8 + length);
      const nul = data.indexOf(0);
      if (nul > 0 && latin1(data.subarray(0, nul)) === KEY) {
        if (type === 'tEXt') return latin1(data.subarray(nul + 1));
        if (data[nul + 1] === 0) return itxtText(data, nul);
      }
    }
    at += 12 + length;
  }
  return undefined;
}

/** iTXt after its keyword: compression flag and method, language tag, translated keyword, UTF-8 text. */
function itxtText(data: Uint8Array, nul: number): string {
  const languageEnd = data.indexOf(0, nul + 3);
  return new TextDecoder().decode(data.subarray(data.indexOf(0, languageEnd + 1) + 1));
}

/** The data of the first APP1 segment holding EXIF, read up to the start of the scan. */
function jpegExif(jpeg: Uint8Array): Uint8Array | undefined {
  for (let at = 2; at + 4 <= jpeg.length; ) {
    if (jpeg[at] !== 0xff) return undefined;
    const marker = jpeg[at + 1] ?? 0;
    // Fill bytes, and markers that stand alone (no length).
    if (marker === 0xff) {
      at += 1;
      continue;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      at += 2;
      continue;
    }
    if (marker === 0xda || marker === 0xd9) return undefined;
    const length = ((jpeg[at + 2] ?? 0) << 8) | (jpeg[at + 3] ?? 0);
    const data = jpeg.subarray(at + 4, at + 2 + length);
    if (marker === 0xe1 && ascii(data, 0, 6) === 'Exif\0\0') return data;
    at += 2 + length;
  }
  return undefined;
}

/** The data of a RIFF chunk of a WebP file (its chunks follow the 12-byte RIFF/WEBP header). */
function webpChunk(webp: Uint8Array, fourcc: string): Uint8Array | undefined {
  const view = new DataView(webp.buffer, webp.byteOffset, webp.byteLength);
  for (let at = 12; at + 8 <= webp.length; ) {
    const size = view.getUint32(at + 4, true);
    if (ascii(webp, at, at + 4) === fourcc) return webp.subarray(at + 8, at + 8 + size);
    at += 8 + size + (size % 2);
  }
  return undefined;
}
