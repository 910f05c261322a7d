import { JSONParser } from '@streamparser/json';
import type { ImageSink } from '../core/ports.ts';
import { ImageStrings } from './image-strings.ts';

/** What a txt2img answer carries that the worker keeps: the images (or how many went to a sink), and the info JSON text. */
export interface Txt2ImgBody {
  /** Every image's bytes, in order; empty when each went to a sink instead. */
  images: Buffer[];
  /** Images the answer carried, held or handed on. */
  count: number;
  info: unknown;
}

/**
 * Images handed on and not yet taken: the answer is read on only while fewer are, so an image is
 * read only once the one before is on its way (to S3). The GPU does not wait meanwhile: the
 * runner's other call is already queued on it.
 */
const SINK_DEPTH = 1;

/**
 * Reads a txt2img answer as it arrives. Each base64 image is decoded piece by piece as its bytes
 * pass (ImageStrings), never built as a string, so the worker never holds the whole body as text,
 * then as parsed strings, then as bytes: a batch of 8 at 2048x2048 is about 85 MB of JSON. With a `sink`, each
 * image goes to it (with its position in the answer) as soon as it is decoded, and reading waits
 * while SINK_DEPTH are still being taken: the peak is then about one image being read and one
 * being taken, not a whole call's images. `parameters` (the request echoed back) is skipped. Throws on malformed
 * or truncated JSON, and with the sink's own error when it fails.
 */
export async function readTxt2ImgBody(
  body: AsyncIterable<Uint8Array>,
  sink?: ImageSink,
): Promise<Txt2ImgBody> {
  const images: Buffer[] = [];
  const handing = new Set<Promise<void>>();
  let count = 0;
  let info: unknown;
  let bad: string | undefined;
  let sinkFailed: { error: unknown } | undefined;
  const handOn = (take: ImageSink, image: Buffer, position: number) => {
    const taking: Promise<void> = take(image, position)
      .catch((error: unknown) => {
        sinkFailed ??= { error };
      })
      .finally(() => handing.delete(taking));
    handing.add(taking);
  };
  const parser = new JSONParser({
    paths: ['$.images.*', '$.info'],
    // Emitted values leave their parents: the images array never fills up.
    keepStack: false,
    stringBufferSize: 64 * 1024,
  });
  parser.onValue = ({ value, key }) => {
    if (key === 'info') info = value;
    // The images themselves come from `strings`: the parser sees each as "".
    else if (typeof value !== 'string')
      bad ??= `images[${String(key)}] is ${value === null ? 'null' : typeof value}, not a base64 string`;
  };
  const strings = new ImageStrings((image) => {
    if (sink) handOn(sink, image, count++);
    else images[count++] = image;
  });
  try {
    for await (const chunk of body) {
      parser.write(strings.filter(chunk));
      while (handing.size >= SINK_DEPTH && !sinkFailed) await Promise.race(handing);
      if (sinkFailed) throw sinkFailed.error;
    }
    // The parser ends itself at the close of the top-level object; before it, the body was cut short.
    if (!parser.isEnded) parser.end();
  } finally {
    // Nothing handed on is left running behind the answer, whatever ended the reading.
    await Promise.all(handing);
  }
  if (sinkFailed) throw sinkFailed.error;
  if (bad) throw new Error(bad);
  return { images, count, info };
}
