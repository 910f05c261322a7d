import { imageSize } from 'image-size';
import { UnsupportedImageError } from '../errors.ts';
import { IMAGE_FORMATS, type ImageFormat } from './formats.ts';
import { embeddedInfotext } from './infotext.ts';

/** An image SD WebUI answered, as it will be stored: what its bytes are, not what was asked for. */
export interface IdentifiedImage {
  format: ImageFormat;
  contentType: string;
  /** Of the stored key (image-key.ts). */
  extension: string;
  width: number;
  height: number;
  /** The generation parameters the file itself carries, when it carries them. */
  infotext?: string;
}

/** The signatures of the formats stored: the first bytes decide, never the request or a header. */
const SIGNATURES: Array<{ format: ImageFormat; at: number; bytes: number[] }> = [
  { format: 'png', at: 0, bytes: [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] },
  { format: 'jpeg', at: 0, bytes: [0xff, 0xd8, 0xff] },
  // "RIFF", a length, then "WEBP".
  { format: 'webp', at: 0, bytes: [0x52, 0x49, 0x46, 0x46] },
  { format: 'webp', at: 8, bytes: [0x57, 0x45, 0x42, 0x50] },
];

/** What image-size calls each format stored. */
const SIZE_TYPE: Record<ImageFormat, string> = { png: 'png', jpeg: 'jpg', webp: 'webp' };

const PNG_END = [0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82];

/**
 * Whether the file ends where its format says it does, without reading what lies between: a
 * PNG's last chunk is IEND, a JPEG ends with EOI, a WebP's RIFF header gives its whole length.
 * An answer cut short in the middle of an image is caught here, not by a viewer later.
 */
const COMPLETE: Record<ImageFormat, (b: Uint8Array) => boolean> = {
  png: (b) => PNG_END.every((x, i) => b[b.length - PNG_END.length + i] === x),
  jpeg: (b) => b[b.length - 2] === 0xff && b[b.length - 1] === 0xd9,
  webp: (b) => b.length >= 12 && new DataView(b.buffer, b.byteOffset, 12).getUint32(4, true) + 8 === b.length,
};

/**
 * What an image's bytes are: PNG, JPEG or WebP by their signature, their size from their header
 * (nothing is decoded), and the infotext they carry. Anything else, or one of these cut short
 * (no size in its header, or not ending as its format does), throws UnsupportedImageError naming
 * the image (`name`) and what its bytes look like.
 */
export function identifyImage(bytes: Uint8Array, name = 'the image'): IdentifiedImage {
  const format = signatureOf(bytes);
  if (!format) throw new UnsupportedImageError(`${name} is ${describeForeign(bytes)}: ${STORED}`);
  const { label, contentType, extension } = IMAGE_FORMATS[format];
  const size = sizeOf(bytes);
  const sized = size?.type === SIZE_TYPE[format] && size.width >= 1 && size.height >= 1;
  if (!size || !sized || !COMPLETE[format](bytes)) {
    throw new UnsupportedImageError(`${name} starts as a ${label} but is cut short or corrupt`);
  }
  const infotext = embeddedInfotext(format, bytes);
  return {
    format,
    contentType,
    extension,
    width: size.width,
    height: size.height,
    ...(infotext === undefined ? {} : { infotext }),
  };
}

const STORED =
  "only PNG, JPEG and WebP images are stored (SD WebUI's samples_format setting png, jpg or webp)";

function signatureOf(bytes: Uint8Array): ImageFormat | undefined {
  const matches = (s: (typeof SIGNATURES)[number]) => s.bytes.every((b, i) => bytes[s.at + i] === b);
  const formats = new Set(SIGNATURES.map((s) => s.format));
  return [...formats].find((format) => SIGNATURES.filter((s) => s.format === format).every(matches));
}

function sizeOf(bytes: Uint8Array) {
  try {
    return imageSize(bytes);
  } catch {
    return undefined;
  }
}

/** "SVG", "GIF", or how the bytes begin when no one can name them. */
function describeForeign(bytes: Uint8Array): string {
  if (bytes.length === 0) return 'empty';
  const type = sizeOf(bytes)?.type;
  if (type) return type.toUpperCase();
  const head = bytes.subarray(0, 16);
  const printable = [...head].every((b) => b === 0x09 || b === 0x0a || b === 0x0d || (b >= 0x20 && b < 0x7f));
  const start = printable
    ? JSON.stringify(String.fromCharCode(...head))
    : [...head.subarray(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  return `no known image format (${bytes.length} bytes, starting ${start})`;
}
