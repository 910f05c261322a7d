import sharp from 'sharp';

/**
 * The format of API answers, set server-wide by the `samples_format` option as in A1111 1.8
 * (modules/api/api.py, encode_pil_to_base64): "png" with text chunks, "jpg"/"jpeg" and "webp"
 * (any case) with the infotext in an EXIF UserComment; anything else fails the call with a 500
 * "Invalid image format" once the images are made.
 */
export type SamplesFormat = 'png' | 'jpeg' | 'webp';

export function samplesFormat(option: unknown): SamplesFormat | undefined {
  const name = String(option).toLowerCase();
  if (name === 'png' || name === 'webp') return name;
  return name === 'jpg' || name === 'jpeg' ? 'jpeg' : undefined;
}

export interface LossyPicture {
  width: number;
  height: number;
  rgb: Uint8Array;
  infotext: string;
  /** The `jpeg_quality` option, which A1111 also uses for WebP. */
  quality: number;
}

/** A JPEG or WebP as A1111 answers it: JFIF, then the EXIF block; WebP in its extended (VP8X) form. */
export async function encodeLossy(format: 'jpeg' | 'webp', picture: LossyPicture): Promise<Buffer> {
  const { width, height, rgb, quality } = picture;
  const image = sharp(rgb, { raw: { width, height, channels: 3 } });
  const exif = exifBlock(picture.infotext);
  if (format === 'jpeg') return withJpegExif(await image.jpeg({ quality }).toBuffer(), exif);
  return withWebpExif(await image.webp({ quality }).toBuffer(), exif, width, height);
}

/**
 * The EXIF block piexif.dump writes for {"Exif": {UserComment: ...}} with the "unicode" encoding,
 * byte for byte: big-endian TIFF, IFD0 holding only the Exif IFD pointer, the Exif IFD holding only
 * UserComment ("UNICODE\0" then UTF-16BE), and no next-directory link after the Exif IFD.
 */
export function exifBlock(infotext: string): Buffer {
  const comment = Buffer.concat([Buffer.from('UNICODE\0', 'latin1'), utf16be(infotext)]);
  const head = Buffer.alloc(40);
  head.write('MM', 0, 'latin1');
  head.writeUInt16BE(42, 2);
  head.writeUInt32BE(8, 4); // IFD0
  head.writeUInt16BE(1, 8);
  entry(head, 10, 0x8769, 4, 1, 26); // ExifIFDPointer, LONG
  head.writeUInt32BE(0, 22); // no IFD1
  head.writeUInt16BE(1, 26);
  entry(head, 28, 0x9286, 7, comment.length, 40); // UserComment, UNDEFINED
  return Buffer.concat([head, comment]);
}

function entry(out: Buffer, at: number, tag: number, type: number, count: number, value: number) {
  out.writeUInt16BE(tag, at);
  out.writeUInt16BE(type, at + 2);
  out.writeUInt32BE(count, at + 4);
  out.writeUInt32BE(value, at + 8);
}

const utf16be = (text: string): Buffer => Buffer.from(text, 'utf16le').swap16();

/** JFIF 1.1, no units, 1:1 density, no thumbnail: the APP0 segment PIL writes first. */
const JFIF = Buffer.from('ffe000104a46494600010100000100010000', 'hex');

/** SOI, JFIF APP0, an APP1 "Exif" segment, then the rest, in PIL's order (sharp writes no APP0). */
function withJpegExif(jpeg: Buffer, exif: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), exif]);
  const app1 = Buffer.alloc(4);
  app1.writeUInt16BE(0xffe1, 0);
  app1.writeUInt16BE(body.length + 2, 2);
  const rest = jpeg[3] === 0xe0 ? jpeg.subarray(4 + jpeg.readUInt16BE(4)) : jpeg.subarray(2);
  return Buffer.concat([jpeg.subarray(0, 2), JFIF, app1, body, rest]);
}

/** The simple WebP sharp writes (one VP8 or VP8L chunk) as VP8X + image + EXIF, as libwebp's mux does. */
function withWebpExif(webp: Buffer, exif: Buffer, width: number, height: number): Buffer {
  const vp8x = Buffer.alloc(18);
  vp8x.write('VP8X', 0, 'latin1');
  vp8x.writeUInt32LE(10, 4);
  vp8x.writeUInt8(0x08, 8); // flags: EXIF present
  vp8x.writeUIntLE(width - 1, 12, 3);
  vp8x.writeUIntLE(height - 1, 15, 3);
  const exifChunk = Buffer.alloc(8);
  exifChunk.write('EXIF', 0, 'latin1');
  exifChunk.writeUInt32LE(exif.length, 4);
  const pad = Buffer.alloc(exif.length % 2);
  const chunks = Buffer.concat([vp8x, webp.subarray(12), exifChunk, exif, pad]);
  const riff = Buffer.alloc(12);
  riff.write('RIFF', 0, 'latin1');
  riff.writeUInt32LE(chunks.length + 4, 4);
  riff.write('WEBP', 8, 'latin1');
  return Buffer.concat([riff, chunks]);
}
