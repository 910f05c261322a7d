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

  it('reads an answer without images or info as such; the client decides what that means', async () => {
    expect(await readTxt2ImgBody(chunks('{"images": null, "parameters": {}}', [5]))).toEqual({
      images: [],
      info: undefined,
    });
  });
});
