import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { identifyImage } from '../../core/image-format/identify.ts';
import { EXTENSION_OPTIONS } from '../../local/simulator/catalog.ts';
import { type Simulator, startSimulator } from '../../local/simulator/server.ts';
import { type Fixture, loadFixtures, play } from './fixtures.ts';
import { stripImages } from './sd-webui-http.ts';
import { type ShapeRules, shapeDiff } from './shape.ts';

/**
 * Every recorded answer of the real A1111 1.8 (test/fixtures/sd-webui-1.8) against the simulator's
 * answer to the same request, with the simulator standing in for 1.8: same status, same shape
 * (keys and JSON types, recursively), and for errors the same body. Answers in another
 * samples_format (JPEG, WebP) also have images of the same format and size, each carrying its
 * infotext as the real server's do. These are checked here only: the real-server suite leaves
 * samples_format alone, since the setting is the whole server's and others may be calling it.
 */

const RULES: Record<string, ShapeRules> = {
  'get-options': { open: [''] }, // the simulator keeps a subset of the several hundred settings
  'get-samplers': { maps: ['[*].options'] },
};
const txt2imgRules: ShapeRules = { jsonStrings: ['info'] };

let sim: Simulator;
let checkpointTitle: string;

beforeAll(async () => {
  sim = await startSimulator({ stepMs: 20, flavour: 'a1111-1.8' });
  const models = (await (await fetch(`${sim.url}/sdapi/v1/sd-models`)).json()) as Array<{ title: string }>;
  checkpointTitle = models[0]?.title ?? '';
});
afterAll(() => sim.close());

/** The kit's one checkpoint is not in the simulator's catalog: name the simulator's own instead. */
function adapt(f: Fixture): Fixture {
  const text = JSON.stringify(f.request).replaceAll('random-sd15.safetensors [5dd3a9b884]', checkpointTitle);
  return { ...f, request: JSON.parse(text) };
}

/** Settings of extensions the kit does not have are no part of the comparison. */
function withoutExtensions(name: string, body: unknown): unknown {
  if (name !== 'get-options' || typeof body !== 'object' || body === null) return body;
  return Object.fromEntries(Object.entries(body).filter(([k]) => !EXTENSION_OPTIONS.includes(k)));
}

const imagesOf = (body: unknown) => (body as { images: string[] }).images;

/** Each image's own infotext, and whether it is the one the answer's info gives for it. */
function carried(body: unknown) {
  const { infotexts } = JSON.parse((body as { info: string }).info) as { infotexts: string[] };
  return imagesOf(body).map((base64, i) => {
    const own = identifyImage(Buffer.from(base64, 'base64')).infotext;
    return { own: own?.split('\n')[0], asInfo: own === infotexts[i] };
  });
}

describe('recorded A1111 1.8 answers against the simulator (flavour a1111-1.8)', () => {
  const fixtures = loadFixtures();

  it('has the fixtures the contract rests on', () => {
    const names = fixtures.map((f) => f.name);
    for (const name of [
      'txt2img',
      'txt2img-hires',
      'progress-running',
      'progress-idle',
      'txt2img-404-sampler',
      'txt2img-jpg',
      'txt2img-webp',
    ]) {
      expect(names).toContain(name);
    }
  });

  it.each(fixtures.map((f) => [f.name, f] as const))('%s', async (name, fixture) => {
    const answer = await play(sim.url, adapt(fixture), { everyMs: 2, withinMs: 10_000 });
    expect(answer.status).toBe(fixture.status);
    const body = withoutExtensions(name, stripImages(answer.body));
    const rules = RULES[name] ?? (fixture.request.path === '/sdapi/v1/txt2img' ? txt2imgRules : {});
    expect(shapeDiff(fixture.body, body, rules)).toEqual([]);
    if (fixture.status >= 400) expect(body).toEqual(fixture.body);
    if (fixture.samplesFormat !== undefined && fixture.status === 200) {
      expect(imagesOf(body)).toEqual(imagesOf(stripImages(fixture.body)));
      expect(carried(answer.body)).toEqual(carried(fixture.body));
    }
  });
});
