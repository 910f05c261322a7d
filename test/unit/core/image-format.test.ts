import { describe, expect, it } from 'vitest';
import { UnsupportedImageError } from '../../../core/errors.ts';
import { exifUserComment } from '../../../core/image-format/exif.ts';
import { formatOfKey } from '../../../core/image-format/formats.ts';
import { identifyImage } from '../../../core/image-format/identify.ts';
import { contactSheetKey, downloadName, imageKey } from '../../../core/image-key.ts';
import { encodePng } from '../../../local/simulator/png.ts';
import { loadFixture } from '../../contract/fixtures.ts';

/** The images and infotexts the real A1111 1.8 answered with samples_format jpg or webp. */
function recorded(name: 'txt2img-jpg' | 'txt2img-webp') {
  const body = loadFixture(name).body as { images: string[]; info: string };
  const { infotexts } = JSON.parse(body.info) as { infotexts: string[] };
  return { bytes: Buffer.from(body.images[0] ?? '', 'base64'), infotext: infotexts[0] };
}

const png = (width: number, height: number, text: Record<string, string> = {}) =>
  encodePng({ width, height, rgb: new Uint8Array(width * height * 3), text });

const SVG = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><rect/></svg>');

describe('identifyImage', () => {
  it('reads a JPEG of the real A1111: its type, extension, size and the infotext of its EXIF UserComment', () => {
    const { bytes, infotext } = recorded('txt2img-jpg');
    expect(infotext).toMatch(/^x, ü 猫\nSteps: 1, /);
    expect(identifyImage(bytes)).toEqual({
      format: 'jpeg',
      contentType: 'image/jpeg',
      extension: 'jpg',
      width: 64,
      height: 64,
      infotext,
    });
  });

  it('reads a WebP of the real A1111 likewise (EXIF in a chunk after the image data)', () => {
    const { bytes, infotext } = recorded('txt2img-webp');
    expect(identifyImage(bytes)).toEqual({
      format: 'webp',
      contentType: 'image/webp',
      extension: 'webp',
      width: 64,
      height: 64,
      infotext,
    });
  });

  it('reads a PNG: the size of its header and its "parameters" text, tEXt or iTXt', () => {
    expect(identifyImage(png(96, 48, { Software: 'x', parameters: 'a cat\nSeed: 7' }))).toEqual({
      format: 'png',
      contentType: 'image/png',
      extension: 'png',
      width: 96,
      height: 48,
      infotext: 'a cat\nSeed: 7',
    });
    expect(identifyImage(png(2, 3, { parameters: '猫\nSeed: 1' })).infotext).toBe('猫\nSeed: 1');
    expect(identifyImage(png(2, 3, { Software: 'x' }))).not.toHaveProperty('infotext');
  });

  it('refuses what is no PNG, JPEG or WebP, naming the image and what its bytes are', () => {
    const refused = (bytes: Uint8Array) => {
      try {
        identifyImage(bytes, 'image 1 of the answer');
      } catch (error) {
        expect(error).toBeInstanceOf(UnsupportedImageError);
        return (error as Error).message;
      }
      throw new Error('identified');
    };
    expect(refused(SVG)).toBe(
      "image 1 of the answer is SVG: only PNG, JPEG and WebP images are stored (SD WebUI's samples_format setting png, jpg or webp)",
    );
    expect(refused(Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00;', 'latin1'))).toMatch(/ is GIF: /);
    expect(refused(Buffer.from('<html><body>Bad gateway</body></html>'))).toMatch(
      /is no known image format \(37 bytes, starting "<html><body>Bad "\)/,
    );
    expect(refused(Buffer.from([0, 1, 2, 0xfe]))).toMatch(/\(4 bytes, starting 00 01 02 fe\)/);
    expect(refused(new Uint8Array(0))).toMatch(/ is empty: /);
  });

  it('refuses a PNG, JPEG or WebP cut short, before its size or after', () => {
    const jpeg = recorded('txt2img-jpg').bytes;
    const webp = recorded('txt2img-webp').bytes;
    const whole = png(4, 4);
    for (const [bytes, label] of [
      [jpeg.subarray(0, 300), 'JPEG'],
      [jpeg.subarray(0, jpeg.length - 1), 'JPEG'],
      [webp.subarray(0, 16), 'WebP'],
      [webp.subarray(0, webp.length - 2), 'WebP'],
      [whole.subarray(0, 12), 'PNG'],
      [whole.subarray(0, whole.length - 12), 'PNG'],
    ] as const) {
      expect(() => identifyImage(bytes, 'image 0')).toThrow(
        `image 0 starts as a ${label} but is cut short or corrupt`,
      );
    }
  });

  it('keeps the format of a JPEG or WebP without an infotext', () => {
    const jpeg = recorded('txt2img-jpg').bytes;
    // The APP1 EXIF segment gone: SOI, then what followed it.
    const app1 = jpeg.indexOf(Buffer.from('Exif\0\0', 'latin1')) - 4;
    const bare = Buffer.concat([
      jpeg.subarray(0, app1),
      jpeg.subarray(app1 + 2 + jpeg.readUInt16BE(app1 + 2)),
    ]);
    expect(identifyImage(bare)).toEqual({
      format: 'jpeg',
      contentType: 'image/jpeg',
      extension: 'jpg',
      width: 64,
      height: 64,
    });
  });
});

/** A TIFF block with UserComment `value` in its Exif IFD, in either byte order. */
function tiff(little: boolean, value: Uint8Array): Buffer {
  const b = Buffer.alloc(40);
  const u16 = (v: number, at: number) => (little ? b.writeUInt16LE(v, at) : b.writeUInt16BE(v, at));
  const u32 = (v: number, at: number) => (little ? b.writeUInt32LE(v, at) : b.writeUInt32BE(v, at));
  const entry = (at: number, tag: number, type: number, count: number, offset: number) => {
    u16(tag, at);
    u16(type, at + 2);
    u32(count, at + 4);
    u32(offset, at + 8);
  };
  b.write(little ? 'II' : 'MM', 0, 'latin1');
  u16(42, 2);
  u32(8, 4);
  u16(1, 8);
  entry(10, 0x8769, 4, 1, 26);
  u16(1, 26);
  entry(28, 0x9286, 7, value.length, 40);
  return Buffer.concat([b, value]);
}

const code = (name: string) => Buffer.from(name.padEnd(8, '\0'), 'latin1');

describe('exifUserComment', () => {
  it('reads UNICODE in the block’s byte order, or as its byte order mark says', () => {
    const le = Buffer.from('猫 Seed: 1', 'utf16le');
    const be = Buffer.from(le).swap16();
    expect(exifUserComment(tiff(true, Buffer.concat([code('UNICODE'), le])))).toBe('猫 Seed: 1');
    expect(exifUserComment(tiff(false, Buffer.concat([code('UNICODE'), be])))).toBe('猫 Seed: 1');
    const marked = Buffer.concat([code('UNICODE'), Buffer.from([0xff, 0xfe]), le]);
    expect(exifUserComment(tiff(false, marked))).toBe('猫 Seed: 1');
  });

  it('reads ASCII and an undefined code as UTF-8, with or without the JPEG "Exif" header', () => {
    const ascii = tiff(false, Buffer.concat([code('ASCII'), Buffer.from('a cat\0')]));
    expect(exifUserComment(ascii)).toBe('a cat');
    expect(exifUserComment(Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), ascii]))).toBe('a cat');
    expect(exifUserComment(tiff(true, Buffer.concat([Buffer.alloc(8), Buffer.from('ü')])))).toBe('ü');
  });

  it('gives nothing for an empty comment, another tag, or a block that is cut short or not TIFF', () => {
    expect(exifUserComment(tiff(false, code('UNICODE')))).toBeUndefined();
    const other = tiff(false, Buffer.concat([code('ASCII'), Buffer.from('x')]));
    other.writeUInt16BE(0x9000, 28);
    expect(exifUserComment(other)).toBeUndefined();
    const whole = tiff(false, Buffer.concat([code('ASCII'), Buffer.from('long enough')]));
    expect(exifUserComment(whole.subarray(0, 44))).toBeUndefined();
    expect(exifUserComment(Buffer.from('not a tiff block at all'))).toBeUndefined();
  });
});

describe('keys and names', () => {
  it('gives each image a key with its format’s extension, which readers map back to its type', () => {
    const keys = (['png', 'jpeg', 'webp'] as const).map((f) => imageKey('job_20261207_abc', 3, 1, f));
    expect(keys).toEqual([
      'jobs/job_20261207_abc/003-1.png',
      'jobs/job_20261207_abc/003-1.jpg',
      'jobs/job_20261207_abc/003-1.webp',
    ]);
    expect(keys.map((k) => formatOfKey(k)?.contentType)).toEqual(['image/png', 'image/jpeg', 'image/webp']);
    expect(formatOfKey('jobs/x/000-0.gif')).toBeUndefined();
    expect(formatOfKey(contactSheetKey('job_20261207_abc'))?.contentType).toBe('image/png');
  });

  it('names a download after its iteration, index and seed, with its key’s extension', () => {
    const file = { iteration: 3, index: 1, seed: 1234, key: 'jobs/job_20261207_abc/003-1.webp' };
    expect(downloadName(file)).toBe('003-1-seed1234.webp');
    expect(downloadName({ ...file, key: 'jobs/job_20261207_abc/003-1.jpg' })).toBe('003-1-seed1234.jpg');
  });
});
