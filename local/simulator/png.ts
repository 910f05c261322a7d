import { promisify } from 'node:util';
import { constants, crc32, deflate, deflateSync, inflateSync } from 'node:zlib';

/** A minimal PNG codec: 8-bit RGB out, size and text chunks in. */

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export interface PngImage {
  width: number;
  height: number;
  /** width × height × 3 bytes, rows top to bottom. */
  rgb: Uint8Array;
  text: Record<string, string>;
}

export interface PngInfo {
  width: number;
  height: number;
  text: Record<string, string>;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  out.set(data, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

const isLatin1 = (s: string): boolean => Buffer.from(s, 'latin1').toString('latin1') === s;

/** Latin-1 text goes in tEXt; anything else in an uncompressed UTF-8 iTXt, as PIL does. */
function textChunk(key: string, value: string): Buffer {
  if (isLatin1(value)) return chunk('tEXt', Buffer.from(`${key}\0${value}`, 'latin1'));
  const head = Buffer.from(`${key}\0\0\0\0\0`, 'latin1');
  return chunk('iTXt', Buffer.concat([head, Buffer.from(value, 'utf8')]));
}

function rawRows({ width, height, rgb }: PngImage): Buffer {
  const stride = width * 3;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`bad PNG size ${width}x${height}`);
  }
  if (rgb.length !== stride * height) throw new RangeError(`expected ${stride * height} RGB bytes`);
  const raw = Buffer.alloc((stride + 1) * height); // filter byte 0 (None) starts each row
  for (let y = 0; y < height; y++) raw.set(rgb.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  return raw;
}

function assemble({ width, height, text }: PngImage, idat: Buffer): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // bit depth 8, colour type RGB, deflate, no filter set, no interlace
  return Buffer.concat([
    SIGNATURE,
    chunk('IHDR', ihdr),
    ...Object.entries(text).map(([key, value]) => textChunk(key, value)),
    chunk('IDAT', idat),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const DEFLATE = { level: constants.Z_BEST_SPEED };
const deflateAsync = promisify(deflate);

export function encodePng(image: PngImage): Buffer {
  return assemble(image, deflateSync(rawRows(image), DEFLATE));
}

/** The same PNG, compressed off the event loop. */
export async function encodePngAsync(image: PngImage): Promise<Buffer> {
  return assemble(image, await deflateAsync(rawRows(image), DEFLATE));
}

function decodeText(type: string, data: Buffer): [string, string] {
  const nul = data.indexOf(0);
  const key = data.toString('latin1', 0, nul);
  if (type === 'tEXt') return [key, data.toString('latin1', nul + 1)];
  if (type === 'zTXt') return [key, inflateSync(data.subarray(nul + 2)).toString('latin1')];
  // iTXt: keyword, compression flag, method, language tag, translated keyword, UTF-8 text
  const compressed = data[nul + 1] === 1;
  const langEnd = data.indexOf(0, nul + 3);
  const body = data.subarray(data.indexOf(0, langEnd + 1) + 1);
  return [key, (compressed ? inflateSync(body) : body).toString('utf8')];
}

/** Reads size and text chunks (tEXt, zTXt, iTXt); throws on anything that is not a well-formed PNG. */
export function readPng(buf: Uint8Array): PngInfo {
  const png = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (png.length < 8 || !png.subarray(0, 8).equals(SIGNATURE)) throw new Error('not a PNG: bad signature');
  const info: PngInfo = { width: 0, height: 0, text: {} };
  let at = 8;
  let sawHeader = false;
  while (at + 12 <= png.length) {
    const length = png.readUInt32BE(at);
    const type = png.toString('latin1', at + 4, at + 8);
    const end = at + 8 + length;
    if (end + 4 > png.length) break;
    if (png.readUInt32BE(end) !== crc32(png.subarray(at + 4, end)))
      throw new Error(`PNG ${type} chunk: bad CRC`);
    const data = png.subarray(at + 8, end);
    if (type === 'IHDR') {
      info.width = data.readUInt32BE(0);
      info.height = data.readUInt32BE(4);
      sawHeader = true;
    } else if (type === 'tEXt' || type === 'zTXt' || type === 'iTXt') {
      const [key, value] = decodeText(type, data);
      info.text[key] = value;
    } else if (type === 'IEND') {
      if (!sawHeader) break;
      return info;
    }
    at = end + 4;
  }
  throw new Error('not a PNG: truncated or missing IHDR/IEND');
}
