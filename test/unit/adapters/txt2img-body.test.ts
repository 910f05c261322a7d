import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readTxt2ImgBody } from '../../../adapters/txt2img-body.ts';

async function* chunks(text: string, cuts: number[]): AsyncIterable<Uint8Array> {
  const bytes = Buffer.from(text);
  let at = 0;
  for (const cut of [...cuts.map((c) => c % (bytes.length + 1))].sort((a, b) => a - b)) {
    yield bytes.subarray(at, cut);
    at = cut;
  }
  yield bytes.subarray(at);
}

const answer = (images: Uint8Array[]) =>
  JSON.stringify({
    images: images.map((b) => Buffer.from(b).toString('base64')),
    // The request echoed back: nested, with escapes and unicode, all of it skipped.
    parameters: {
      prompt: 'a "quoted" \\ prompt, 猫 \n',
      alwayson_scripts: { x: { args: [1, null, [true]] } },
    },
    info: JSON.stringify({ all_seeds: images.map((_, i) => i), infotexts: ['a\nb'] }),
  });

describe('readTxt2ImgBody', () => {
  it('decodes every image and keeps the info, however the body is cut into chunks', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 1, maxLength: 5 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        async (images, cuts) => {
          const text = answer(images);
          const body = await readTxt2ImgBody(chunks(text, cuts));
          expect(body.images.map((b) => [...b])).toEqual(images.map((b) => [...b]));
          expect(body.info).toBe(JSON.parse(text).info);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('refuses a body cut short, malformed JSON, and an image that is not a string', async () => {
    const text = answer([new Uint8Array([1, 2, 3])]);
    await expect(readTxt2ImgBody(chunks(text.slice(0, -1), []))).rejects.toThrow();
    await expect(readTxt2ImgBody(chunks(text.slice(0, 20), []))).rejects.toThrow();
    await expect(readTxt2ImgBody(chunks(`${text} trailing`, []))).rejects.toThrow();
    await expect(readTxt2ImgBody(chunks('{"images": [null], "info": "{}"}', []))).rejects.toThrow(
      /images\[0\] is null/,
    );
  });

  it('reads escaped slashes in an image, and refuses an image that is not base64', async () => {
    const bytes = new Uint8Array([0xff, 0xff, 0xfe, 0xfb, 0xef, 0xbe]);
    const b64 = Buffer.from(bytes).toString('base64');
    expect(b64).toContain('/');
    const escaped = `{"images": ["${b64.replaceAll('/', '\\/')}"], "info": "{}"}`;
    for (const cuts of [[], [12], [13, 14, 15]]) {
      expect([...((await readTxt2ImgBody(chunks(escaped, cuts))).images[0] ?? [])]).toEqual([...bytes]);
    }
    await expect(readTxt2ImgBody(chunks('{"images": ["ab$d"], "info": "{}"}', []))).rejects.toThrow(
      /not base64/,
    );
    await expect(readTxt2ImgBody(chunks('{"images": ["abc"], "info": "{}"}', []))).rejects.toThrow(
      /cut short/,
    );
  });

  it('reads an answer without images or info as such; the client decides what that means', async () => {
    expect(await readTxt2ImgBody(chunks('{"images": null, "parameters": {}}', [5]))).toEqual({
      images: [],
      count: 0,
      info: undefined,
    });
  });
});

/** A sink whose takes end when the test says: what it was given, and how many it had at once. */
function heldSink() {
  const given: Array<[number[], number]> = [];
  const open: Array<() => void> = [];
  let most = 0;
  const sink = (image: Uint8Array, position: number) => {
    given.push([[...image], position]);
    most = Math.max(most, open.length + 1);
    return new Promise<void>((resolve) => open.push(resolve));
  };
  const release = () => {
    for (const resolve of open.splice(0)) resolve();
  };
  return { sink, given, release, most: () => most };
}

describe('readTxt2ImgBody with a sink', () => {
  it('hands each image on with its position as it is decoded, holding none itself', async () => {
    const images = [1, 2, 3, 4, 5].map((n) => new Uint8Array([n, n, n]));
    const { sink, given, release, most } = heldSink();
    // Every image in its own chunk, so the reader would run ahead of a slow sink if it could.
    const text = answer(images);
    const cuts = images.map(
      (_, i) =>
        text.indexOf('"', text.indexOf(Buffer.from(images[i] as Uint8Array).toString('base64')) + 1) + 1,
    );
    const reading = readTxt2ImgBody(chunks(text, cuts), sink);
    // The sink answers only when asked to: the reader must wait for it.
    while (given.length < images.length) {
      await new Promise((resolve) => setImmediate(resolve));
      release();
    }
    release();
    const body = await reading;
    expect(given).toEqual(images.map((b, i) => [[...b], i]));
    expect(body).toEqual({ images: [], count: 5, info: JSON.parse(text).info });
    // One at a time on its way: the answer is not read on past it.
    expect(most()).toBe(1);
  });

  it('fails with the sink’s own error, with nothing handed on left running', async () => {
    const failure = new Error('SlowDown');
    let running = 0;
    const sink = async () => {
      running++;
      await Promise.resolve();
      running--;
      throw failure;
    };
    const text = answer([1, 2, 3].map((n) => new Uint8Array([n])));
    await expect(readTxt2ImgBody(chunks(text, [10, 20, 30, 40]), sink)).rejects.toBe(failure);
    expect(running).toBe(0);
  });
});
