/**
 * Child process of the memory benchmark: reads one txt2img answer from `url` and prints its peak
 * RSS. `store`: as the generate task does, SdWebUiClient handing each image as it is decoded to
 * an S3ImageStore whose PUTs go to `url` too (the real S3 client, its request built and sent);
 * `hold`: SdWebUiClient decoding one image at a time but keeping them all, as the task did before
 * it stored them on the way; `whole`: the body as text, JSON.parse, then every image decoded. It
 * loads the worker's modules first (the AWS SDK clients, the pool, the job store, what wakes
 * waiting runners through Step Functions), so the figures include what a generate Lambda holds
 * anyway; decodePeak runs it bundled, as deployed.
 */
import { readFileSync } from 'node:fs';
import { s3Client } from '../adapters/aws-clients.ts';
import { S3ImageStore } from '../adapters/s3-image-store.ts';
import { SdWebUiClient } from '../adapters/sd-webui-client.ts';
import { SfnTaskCallbacks } from '../adapters/sfn-task-callbacks.ts';
import { createWorkerDeps } from '../lambdas/composition.ts';

export type PeakMode = 'store' | 'hold' | 'whole';

const [mode, url] = process.argv.slice(2) as [PeakMode, string];
const hwmMiB = () => Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]) / 1024;
const probe = { accessKeyId: 'probe', secretAccessKey: 'probe' };

createWorkerDeps({
  tableName: 't',
  bucketName: 'b',
  sdHost: { baseUrl: url },
  callbacks: new SfnTaskCallbacks({ region: 'us-east-1', credentials: probe }),
});
const store = new S3ImageStore(s3Client({ region: 'us-east-1', s3Endpoint: url, credentials: probe }), 'b');
const loaded = hwmMiB();
let images = 0;
let bytes = 0;
if (mode === 'store') {
  await new SdWebUiClient({ baseUrl: url }).txt2img({}, undefined, undefined, async (image, position) => {
    images++;
    bytes += image.length;
    await store.put({
      key: `jobs/probe/000-${position}.png`,
      body: image,
      contentType: 'image/png',
      expiresAt: 0,
    });
  });
} else {
  const held =
    mode === 'hold'
      ? (await new SdWebUiClient({ baseUrl: url }).txt2img({})).images
      : (
          JSON.parse(await (await fetch(`${url}/sdapi/v1/txt2img`, { method: 'POST', body: '{}' })).text())
            .images as string[]
        ).map((b64) => Buffer.from(b64, 'base64'));
  images = held.length;
  bytes = held.reduce((t, i) => t + i.length, 0);
}
process.stdout.write(`${JSON.stringify({ loaded, peak: hwmMiB(), images, bytes })}\n`);
