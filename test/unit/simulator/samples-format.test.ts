import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { identifyImage } from '../../../core/image-format/identify.ts';
import { exifBlock } from '../../../local/simulator/samples-format.ts';
import { type Simulator, startSimulator } from '../../../local/simulator/server.ts';
import { loadFixture } from '../../contract/fixtures.ts';

let sim: Simulator;
beforeAll(async () => {
  sim = await startSimulator({ stepMs: 1 });
});
afterAll(() => sim.close());
afterEach(() => setFormat('png'));

const post = (path: string, body: unknown) =>
  fetch(`${sim.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

async function setFormat(samples_format: string) {
  expect((await post('/sdapi/v1/options', { samples_format })).status).toBe(200);
}

/** Each image of a 2-image answer as identified, with the infotexts the answer's info gives. */
async function answer(body: Record<string, unknown> = {}) {
  const res = await post('/sdapi/v1/txt2img', {
    prompt: 'a cat, 猫',
    steps: 1,
    width: 48,
    height: 32,
    batch_size: 2,
    ...body,
  });
  const json = (await res.json()) as { images: string[]; info: string };
  const { infotexts } = JSON.parse(json.info) as { infotexts: string[] };
  return {
    status: res.status,
    images: json.images.map((i) => identifyImage(Buffer.from(i, 'base64'))),
    infotexts,
  };
}

describe('samples_format: the format of every answer, set server-wide through /options', () => {
  it('answers PNG by default, JPEG after "jpg" (or "JPEG"), WebP after "webp", each with its infotext', async () => {
    for (const [option, format] of [
      ['png', 'png'],
      ['jpg', 'jpeg'],
      ['JPEG', 'jpeg'],
      ['webp', 'webp'],
    ] as const) {
      await setFormat(option);
      const { images, infotexts } = await answer();
      expect(images.map((i) => [i.format, i.width, i.height])).toEqual([
        [format, 48, 32],
        [format, 48, 32],
      ]);
      expect(images.map((i) => i.infotext)).toEqual(infotexts);
      expect(infotexts[1]).toMatch(/^a cat, 猫\n/);
    }
  });

  it('answers the size SD WebUI made, hires fix included', async () => {
    await setFormat('webp');
    const { images } = await answer({
      enable_hr: true,
      hr_scale: 2,
      hr_upscaler: 'Latent',
      denoising_strength: 0.5,
    });
    expect(images.map((i) => [i.format, i.width, i.height])).toEqual([
      ['webp', 96, 64],
      ['webp', 96, 64],
    ]);
  });

  it('answers 500 "Invalid image format" for another format, once the images are made; none asked, none encoded', async () => {
    await setFormat('gif');
    const res = await post('/sdapi/v1/txt2img', { prompt: 'x', steps: 1, width: 8, height: 8 });
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual(loadFixture('txt2img-500-samples-format').body);
    const silent = await post('/sdapi/v1/txt2img', {
      prompt: 'x',
      steps: 1,
      width: 8,
      height: 8,
      send_images: false,
    });
    expect(silent.status).toBe(200);
  });

  it('writes the EXIF block A1111 writes, byte for byte', () => {
    const body = loadFixture('txt2img-jpg').body as { images: string[]; info: string };
    const jpeg = Buffer.from(body.images[0] ?? '', 'base64');
    const at = jpeg.indexOf(Buffer.from('Exif\0\0', 'latin1'));
    const real = jpeg.subarray(at + 6, at - 2 + jpeg.readUInt16BE(at - 2));
    const { infotexts } = JSON.parse(body.info) as { infotexts: string[] };
    expect(exifBlock(infotexts[0] ?? '')).toEqual(real);
  });
});
