import { JSONParser } from '@streamparser/json';

/** What a txt2img answer carries that the worker keeps: every image's bytes, and the info JSON text. */
export interface Txt2ImgBody {
  images: Buffer[];
  info: unknown;
}

/**
 * Reads a txt2img answer as it arrives. Each base64 image is decoded as soon as its string ends
 * and the string dropped, so the worker never holds the whole body as text, then as parsed
 * strings, then as bytes: a batch of 8 at 2048x2048 is about 85 MB of JSON, and this way the
 * peak is the images' bytes plus one string. `parameters` (the request echoed back) is skipped.
 * Throws on malformed or truncated JSON.
 */
export async function readTxt2ImgBody(body: AsyncIterable<Uint8Array>): Promise<Txt2ImgBody> {
  const images: Buffer[] = [];
  let info: unknown;
  let bad: string | undefined;
  const parser = new JSONParser({
    paths: ['$.images.*', '$.info'],
    // Emitted values leave their parents: the images array never fills up.
    keepStack: false,
    stringBufferSize: 64 * 1024,
  });
  parser.onValue = ({ value, key }) => {
    if (key === 'info') info = value;
    else if (typeof value === 'string') images.push(Buffer.from(value, 'base64'));
    else bad ??= `images[${String(key)}] is ${value === null ? 'null' : typeof value}, not a base64 string`;
  };
  for await (const chunk of body) parser.write(chunk);
  // The parser ends itself at the close of the top-level object; before it, the body was cut short.
  if (!parser.isEnded) parser.end();
  if (bad) throw new Error(bad);
  return { images, info };
}
