/**
 * The EXIF UserComment of a TIFF-structured EXIF block: where SD WebUI puts the infotext of a
 * JPEG or WebP (modules/api/api.py encode_pil_to_base64: piexif, UserComment with the "UNICODE"
 * character code). Reads only the two directories on the way (IFD0, then the Exif IFD); anything
 * malformed gives undefined, never an error: an infotext is a description, not the image.
 */

const EXIF_IFD_POINTER = 0x8769;
const USER_COMMENT = 0x9286;
/** EXIF 2.3, table 9: the 8-byte character code that starts a UserComment. */
const CODE_LENGTH = 8;

/** `block` may start with the "Exif\0\0" header of a JPEG APP1 segment (WebP's chunk usually has none). */
export function exifUserComment(block: Uint8Array): string | undefined {
  const tiff = hasExifHeader(block) ? block.subarray(6) : block;
  if (tiff.length < 8) return undefined;
  const order = String.fromCharCode(tiff[0] ?? 0, tiff[1] ?? 0);
  if (order !== 'II' && order !== 'MM') return undefined;
  const view = new DataView(tiff.buffer, tiff.byteOffset, tiff.byteLength);
  const little = order === 'II';
  const u16 = (at: number) => (at + 2 <= tiff.length ? view.getUint16(at, little) : undefined);
  const u32 = (at: number) => (at + 4 <= tiff.length ? view.getUint32(at, little) : undefined);
  if (u16(2) !== 42) return undefined;

  /** The entry `tag` of the directory at `ifd`: its value's offset (inline when 4 bytes or less) and count. */
  const entry = (ifd: number | undefined, tag: number) => {
    const count = ifd === undefined ? undefined : u16(ifd);
    if (ifd === undefined || count === undefined) return undefined;
    for (let i = 0; i < count; i++) {
      const at = ifd + 2 + i * 12;
      if (u16(at) !== tag) continue;
      const length = u32(at + 4);
      if (length === undefined) return undefined;
      return { at: length <= 4 ? at + 8 : u32(at + 8), length };
    }
    return undefined;
  };

  const pointer = entry(u32(4), EXIF_IFD_POINTER);
  const exifIfd = pointer?.at === undefined ? undefined : u32(pointer.at);
  const comment = entry(exifIfd, USER_COMMENT);
  if (comment?.at === undefined || comment.at + comment.length > tiff.length) return undefined;
  const text = decodeUserComment(tiff.subarray(comment.at, comment.at + comment.length), little);
  return text ? text : undefined;
}

const hasExifHeader = (b: Uint8Array) =>
  b.length >= 6 && String.fromCharCode(...b.subarray(0, 4)) === 'Exif' && b[4] === 0 && b[5] === 0;

/**
 * The comment's text after its character code. UNICODE is UCS-2 in the block's byte order unless a
 * byte order mark says otherwise (piexif writes UTF-16BE in a big-endian block); ASCII, and an
 * undefined code, are read as UTF-8, as SD WebUI's own reader falls back to; JIS is not read.
 * Trailing NULs go.
 */
function decodeUserComment(value: Uint8Array, littleEndianBlock: boolean): string {
  const code = String.fromCharCode(...value.subarray(0, CODE_LENGTH)).replace(/\0+$/, '');
  const body = value.subarray(CODE_LENGTH);
  if (code === 'JIS') return '';
  const text = code === 'UNICODE' ? decodeUcs2(body, littleEndianBlock) : new TextDecoder().decode(body);
  return text.replace(/\0+$/, '');
}

function decodeUcs2(body: Uint8Array, littleEndianBlock: boolean): string {
  const mark =
    body[0] === 0xfe && body[1] === 0xff ? 'be' : body[0] === 0xff && body[1] === 0xfe ? 'le' : undefined;
  const little = mark ? mark === 'le' : littleEndianBlock;
  const units = body.subarray(mark ? 2 : 0, body.length - (body.length % 2));
  // Always decoded as little-endian (every runtime has that decoder): big-endian units are swapped first.
  const le = little ? units : units.map((_, i) => units[i ^ 1] ?? 0);
  return new TextDecoder('utf-16le', { ignoreBOM: true }).decode(le);
}
