/**
 * Child process of the memory benchmark: reads one txt2img answer from `url` the way the
 * generate task does (`stream`: SdWebUiClient, one image at a time) or the way it used to
 * (`whole`: the body as text, JSON.parse, then every image decoded), and prints its peak RSS.
 * It loads the worker's modules first (the AWS SDK clients, the pool, the job store, what wakes
 * waiting runners through Step Functions), so the
 * figures include what a generate Lambda holds anyway; decodePeak runs it bundled, as deployed.
 */
import { readFileSync } from 'node:fs';
import { SdWebUiClient } from '../adapters/sd-webui-client.ts';
import { SfnTaskCallbacks } from '../adapters/sfn-task-callbacks.ts';
import { createWorkerDeps } from '../lambdas/composition.ts';

const [mode, url] = process.argv.slice(2) as ['stream' | 'whole', string];
const hwmMiB = () => Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]) / 1024;

createWorkerDeps({
  tableName: 't',
  bucketName: 'b',
  sdHost: { baseUrl: url },
  callbacks: new SfnTaskCallbacks({
    region: 'us-east-1',
    credentials: { accessKeyId: 'probe', secretAccessKey: 'probe' },
  }),
});
const loaded = hwmMiB();
let images: Uint8Array[];
if (mode === 'stream') {
  images = (await new SdWebUiClient({ baseUrl: url }).txt2img({})).images;
} else {
  const body = JSON.parse(
    await (await fetch(`${url}/sdapi/v1/txt2img`, { method: 'POST', body: '{}' })).text(),
  );
  images = (body.images as string[]).map((b64) => Buffer.from(b64, 'base64'));
}
const bytes = images.reduce((t, i) => t + i.length, 0);
process.stdout.write(`${JSON.stringify({ loaded, peak: hwmMiB(), images: images.length, bytes })}\n`);
