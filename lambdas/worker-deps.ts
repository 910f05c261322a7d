import { callDeadlineSeconds } from '../core/estimate.ts';
import type { ImageStore, JobStore, SdWebUi } from '../core/ports.ts';
import type { GenerateDeps } from '../core/workflow/generate-iteration.ts';
import { type ClientOptions, documentClient, s3Client } from './adapters/aws-clients.ts';
import { DynamoDbJobStore } from './adapters/dynamodb-job-store.ts';
import { type FetchPolicy, GuardedImageFetcher } from './adapters/guarded-fetcher.ts';
import { S3ImageStore } from './adapters/s3-image-store.ts';
import { SdWebUiClient, type SdWebUiHost } from './adapters/sd-webui-client.ts';

/** Everything the workflow's task handlers need; built once per Lambda instance (or per embedded stack). */
export type WorkerDeps = GenerateDeps;

export interface WorkerSetup {
  tableName: string;
  bucketName: string;
  sdHost: SdWebUiHost;
  clients?: ClientOptions;
  progressPollMs?: number;
  progressWriteMs?: number;
  /** Seconds one sampling step of a 512x512 image takes on the GPU host, for call deadlines. */
  secondsPerStep?: number;
  fetchPolicy?: Partial<FetchPolicy>;
}

export function createWorkerDeps(setup: WorkerSetup): WorkerDeps {
  const jobs: JobStore = new DynamoDbJobStore(documentClient(setup.clients), setup.tableName);
  const images: ImageStore = new S3ImageStore(s3Client(setup.clients), setup.bucketName);
  const sd: SdWebUi = new SdWebUiClient(setup.sdHost);
  return {
    jobs,
    images,
    sd,
    fetcher: new GuardedImageFetcher(setup.fetchPolicy),
    now: () => new Date(),
    progressPollMs: setup.progressPollMs ?? 1000,
    // The promise: live progress reaches the job item at most every 2 s.
    progressWriteMs: setup.progressWriteMs ?? 2000,
    // Below the 900 s Task time-out so a stuck host fails the call, not the whole state.
    callTimeoutMs: (params) =>
      1000 * callDeadlineSeconds(params, { secondsPerStep: setup.secondsPerStep ?? 0.05 }, 840),
  };
}
