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
import { NO_METRICS } from '../core/metrics.ts';
import { lambdaWorkerDeps } from '../lambdas/composition-lambda.ts';
import { loadWorkerConfig } from '../lambdas/config/env.ts';

export type PeakMode = 'store' | 'hold' | 'whole';

const [mode, url] = process.argv.slice(2) as [PeakMode, string];
const hwmMiB = () => Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]) / 1024;
const probe = { accessKeyId: 'probe', secretAccessKey: 'probe' };

// A generate function's dependencies, built by the composition as its entry builds them; its
// S3 PUTs go to `url`.
const env = {
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'probe',
  AWS_SECRET_ACCESS_KEY: 'probe',
  SDBATCH_TABLE_NAME: 't',
  SDBATCH_BUCKET_NAME: 'b',
  SD_WEBUI_URL: url,
};
const workers = lambdaWorkerDeps(loadWorkerConfig(env), undefined, env, {
  metrics: NO_METRICS,
  clients: { region: 'us-east-1', s3Endpoint: url, credentials: probe },
});
const sd = [...workers.hosts.values()][0] as NonNullable<ReturnType<typeof workers.hosts.get>>;
const store = workers.images;
const loaded = hwmMiB();
let images = 0;
let bytes = 0;
if (mode === 'store') {
  await sd.txt2img({}, undefined, undefined, async (image, position) => {
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
      ? (await sd.txt2img({})).images
      : (
          JSON.parse(await (await fetch(`${url}/sdapi/v1/txt2img`, { method: 'POST', body: '{}' })).text())
            .images as string[]
        ).map((b64) => Buffer.from(b64, 'base64'));
  images = held.length;
  bytes = held.reduce((t, i) => t + i.length, 0);
}
process.stdout.write(`${JSON.stringify({ loaded, peak: hwmMiB(), images, bytes })}\n`);
