/** An image string being read: the bytes decoded so far, and the base64 characters not yet decoded. */
interface ImageInProgress {
  buffer: Buffer;
  bytes: number;
  tail: string;
}

/**
 * Takes the base64 strings of a txt2img answer's top-level `images` array out of the byte stream
 * as it passes, decoding each into bytes piece by piece, and leaves `""` in their place for the
 * JSON parser behind it. The parser then never builds the images as JavaScript strings (about
 * 9 MiB each for a 2048x2048 PNG, plus the pieces they are built from), which a worker would
 * otherwise hold as garbage until the collector's next full pass; it still checks the whole
 * answer's syntax and reads `info`.
 *
 * It follows only what it must to know where it is: strings (with their escapes), nesting, and
 * the key of each top-level member.
 */
export class ImageStrings {
  readonly #onImage: (image: Buffer) => void;
  /** Open containers, outermost first: '{' or '['. */
  readonly #stack: string[] = [];
  #inString = false;
  #escaped = false;
  /** The top-level string just closed (a key once ':' follows); keys are short, so it is capped. */
  #lastString = '';
  #stringBytes: number[] | undefined;
  #key: string | undefined;
  /** Set while inside an image string. */
  #image: ImageInProgress | undefined;
  #lastSize = FIRST_SIZE;

  constructor(onImage: (image: Buffer) => void) {
    this.#onImage = onImage;
  }

  /** The chunk as the JSON parser should see it: the same bytes, image strings emptied. */
  filter(chunk: Uint8Array): Uint8Array {
    const out: Uint8Array[] = [];
    let passFrom = 0;
    let imageFrom = 0;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i] as number;
      if (this.#image) {
        if (this.#escaped) {
          // Only "\/" can stand in base64.
          this.#escaped = false;
          if (c !== SLASH) throw new Error('an image in the answer is not base64');
          this.#image.tail += '/';
          imageFrom = i + 1;
          continue;
        }
        if (c !== BACKSLASH && c !== QUOTE) {
          // Skip to the string's next quote or escape: an image is megabytes of plain base64.
          const quote = chunk.indexOf(QUOTE, i);
          const backslash = chunk.indexOf(BACKSLASH, i);
          const next = Math.min(quote < 0 ? chunk.length : quote, backslash < 0 ? chunk.length : backslash);
          i = next - 1;
          continue;
        }
        if (c === BACKSLASH) {
          this.#decode(chunk.subarray(imageFrom, i));
          this.#escaped = true;
        } else {
          this.#decode(chunk.subarray(imageFrom, i));
          this.#endImage();
          // The parser sees the string's closing quote right after its opening one.
          passFrom = i;
          this.#inString = false;
        }
        continue;
      }
      if (this.#inString) {
        if (this.#escaped) this.#escaped = false;
        else if (c === BACKSLASH) this.#escaped = true;
        else if (c === QUOTE) {
          this.#inString = false;
          if (this.#stringBytes) this.#lastString = String.fromCharCode(...this.#stringBytes);
          this.#stringBytes = undefined;
        }
        if (this.#stringBytes && this.#inString && this.#stringBytes.length < KEY_MAX)
          this.#stringBytes.push(c);
        continue;
      }
      const depth = this.#stack.length;
      if (c === QUOTE) {
        this.#inString = true;
        if (depth === 2 && this.#key === 'images' && this.#stack[1] === '[') {
          // An image: the parser gets its opening quote now and its closing one at its end.
          out.push(chunk.subarray(passFrom, i + 1));
          // Sized as the last image was (a call's images are much alike): it rarely has to grow.
          this.#image = { buffer: Buffer.allocUnsafe(this.#lastSize), bytes: 0, tail: '' };
          imageFrom = i + 1;
        } else if (depth === 1) this.#stringBytes = [];
      } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) this.#stack.push(c === OPEN_OBJECT ? '{' : '[');
      else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) this.#stack.pop();
      else if (depth === 1 && c === COLON) this.#key = this.#lastString;
      else if (depth === 1 && c === COMMA) this.#key = undefined;
    }
    if (this.#image) {
      if (!this.#escaped) this.#decode(chunk.subarray(imageFrom));
      return concat(out);
    }
    out.push(chunk.subarray(passFrom));
    return concat(out);
  }

  /** Decodes whole groups of four base64 characters; the rest waits for the next piece. */
  #decode(piece: Uint8Array) {
    const image = this.#image as ImageInProgress;
    const text =
      image.tail + Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength).toString('latin1');
    const whole = text.length - (text.length % 4);
    image.tail = text.slice(whole);
    if (whole === 0) return;
    const group = text.slice(0, whole);
    if (!BASE64.test(group)) throw new Error('an image in the answer is not base64');
    // Decoded straight into the image's buffer: no piece per chunk to collect and copy later.
    const needed = image.bytes + (whole / 4) * 3;
    if (needed > image.buffer.length) {
      const grown = Buffer.allocUnsafe(Math.max(needed, Math.ceil(image.buffer.length * 1.5)));
      image.buffer.copy(grown, 0, 0, image.bytes);
      image.buffer = grown;
    }
    image.bytes += image.buffer.write(group, image.bytes, 'base64');
  }

  #endImage() {
    const image = this.#image as ImageInProgress;
    this.#image = undefined;
    if (image.tail.length > 0) throw new Error('an image in the answer is cut short');
    this.#lastSize = Math.max(FIRST_SIZE, image.bytes);
    this.#onImage(image.buffer.subarray(0, image.bytes));
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const SLASH = 0x2f;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const KEY_MAX = 32;
/** The first image's buffer; it grows by half as needed. */
const FIRST_SIZE = 1024 * 1024;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

const concat = (parts: Uint8Array[]): Uint8Array =>
  parts.length === 1 ? (parts[0] as Uint8Array) : Buffer.concat(parts);
