import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURE_DIR, type Fixture, play, SCENARIOS } from './fixtures.ts';
import { getProgress, type ProgressState, send, stripImages } from './sd-webui-http.ts';

/**
 * Records the fixtures of test/fixtures/sd-webui-1.8 from a real SD WebUI. Run by hand, against a
 * server of your own (some scenarios change its samples_format for a moment, which every caller
 * of the server would see):
 *   SD_WEBUI_URL=http://127.0.0.1:7871 node test/contract/record-fixtures.ts [NAME...]
 * With names, only those scenarios (or traces) are recorded again. The kit's A1111 v1.8.0 has one
 * checkpoint, random-sd15.safetensors [5dd3a9b884].
 */

const url = process.env.SD_WEBUI_URL?.replace(/\/+$/, '');
if (!url) throw new Error('Set SD_WEBUI_URL to the SD WebUI to record from, e.g. http://127.0.0.1:7871');

const server = process.env.SD_WEBUI_LABEL ?? 'A1111 v1.8.0 (bef51aed), sd-webui-kit, CPU, random-sd15';
const timing = { everyMs: 100, withinMs: 120_000 };
mkdirSync(FIXTURE_DIR, { recursive: true });

const write = (name: string, value: unknown) =>
  writeFileSync(join(FIXTURE_DIR, `${name}.json`), `${JSON.stringify(value, null, 2)}\n`);

const only = process.argv.slice(2);
const wanted = (name: string) => only.length === 0 || only.includes(name);

for (const scenario of SCENARIOS.filter((s) => wanted(s.name))) {
  const answer = await play(url, scenario, timing);
  const fixture: Fixture = {
    ...scenario,
    recorded: { server, ms: Math.round(answer.ms) },
    status: answer.status,
    body: scenario.samplesFormat === undefined ? stripImages(answer.body) : answer.body,
  };
  write(scenario.name, fixture);
  console.log(`${scenario.name}: ${answer.status} in ${Math.round(answer.ms)} ms`);
}

/** Every distinct /progress state of one call, after a call of `previousSteps` steps. */
async function trace(name: string, about: string, previousSteps: number, body: Record<string, unknown>) {
  if (!wanted(name)) return;
  const small = { prompt: 'x', width: 64, height: 64 };
  await send(url as string, {
    method: 'POST',
    path: '/sdapi/v1/txt2img',
    body: { ...small, steps: previousSteps },
  });
  const started = performance.now();
  let done = false;
  const running = send(url as string, {
    method: 'POST',
    path: '/sdapi/v1/txt2img',
    body: { ...small, ...body },
  });
  void running.then(() => {
    done = true;
  });
  const states: Array<{ ms: number; progress: number; state: ProgressState }> = [];
  let last = '';
  while (!done) {
    const p = await getProgress(url as string);
    const key = JSON.stringify(p.state);
    if (key !== last)
      states.push({ ms: Math.round(performance.now() - started), progress: p.progress, state: p.state });
    last = key;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const answer = await running;
  const info = JSON.parse(String((answer.body as { info: string }).info)) as { job_timestamp: string };
  write(name, {
    about,
    recorded: { server, ms: Math.round(answer.ms) },
    previousSteps,
    request: body,
    answerJobTimestamp: info.job_timestamp,
    states,
  });
  console.log(`${name}: ${states.length} states`);
}

await trace(
  'trace-txt2img',
  'Every distinct /progress state (polled every 50 ms) of a 3-step call that follows a 1-step call',
  1,
  { steps: 3, seed: 13 },
);
await trace(
  'trace-hires',
  'Every distinct /progress state (polled every 50 ms) of a hires call (2 + 1 steps) that follows a 1-step call',
  1,
  {
    steps: 2,
    seed: 14,
    enable_hr: true,
    hr_upscaler: 'Latent',
    hr_scale: 1.5,
    hr_second_pass_steps: 1,
    denoising_strength: 0.5,
  },
);
