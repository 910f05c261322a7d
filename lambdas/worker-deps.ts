import { callDeadlineSeconds } from '../core/estimate.ts';
import type { HostSpec } from '../core/pool/host-pool.ts';
import type { ImageStore, JobStore, SdWebUi, TaskCallbacks } from '../core/ports.ts';
import type { RunDeps } from '../core/workflow/generate-run.ts';
import { PROGRESS_WRITE_MS } from '../core/workflow/progress-reporter.ts';
import { type ClientOptions, documentClient, s3Client } from './adapters/aws-clients.ts';
import { DynamoDbCheckpointCatalog } from './adapters/dynamodb-checkpoint-catalog.ts';
import { DynamoDbHostPool } from './adapters/dynamodb-host-pool.ts';
import { DynamoDbJobStore } from './adapters/dynamodb-job-store.ts';
import { type FetchPolicy, GuardedImageFetcher } from './adapters/guarded-fetcher.ts';
import { S3ImageStore } from './adapters/s3-image-store.ts';
import { SdWebUiClient, type SdWebUiHost } from './adapters/sd-webui-client.ts';

/** Everything the workflow's task handlers need; built once per Lambda instance (or per embedded stack). */
export type WorkerDeps = RunDeps & {
  /** How long a generate task may run where no Lambda context says so (the embedded stack). */
  runBudgetMs: number;
  /** Ends the waits of runners queued for a GPU slot (Step Functions' SendTaskSuccess). */
  callbacks: TaskCallbacks;
};

/** A GPU host of the pool: where it is, how to authenticate, how many calls it may hold. */
export interface PoolHost extends SdWebUiHost {
  depth?: number;
}

export const DEFAULT_HOST_DEPTH = 2;

/** A host's id is its host:port: the same on every worker and across restarts. */
export const hostId = (baseUrl: string): string => new URL(baseUrl).host;

export const hostSpecs = (hosts: PoolHost[]): HostSpec[] =>
  hosts.map((h) => ({ id: hostId(h.baseUrl), depth: h.depth ?? DEFAULT_HOST_DEPTH }));

export interface WorkerSetup {
  tableName: string;
  bucketName: string;
  /** One host (the common case) or a pool. */
  sdHost?: PoolHost;
  sdHosts?: PoolHost[];
  clients?: ClientOptions;
  /** Step Functions' SendTask* calls, or the embedded orchestrator's. */
  callbacks: TaskCallbacks;
  progressPollMs?: number;
  progressWriteMs?: number;
  /** Seconds one sampling step of a 512x512 image takes on the GPU host, for call deadlines. */
  secondsPerStep?: number;
  fetchPolicy?: Partial<FetchPolicy>;
  /** Back-off between tries of an iteration whose host failed; tests shorten it. */
  retryFirstDelayMs?: number;
  /** Embedded stack only: a generate task's time before it pauses (a Lambda reads its own). */
  runBudgetMs?: number;
  /** How long a failing host rests (REST_MS by default); tests shorten it. */
  hostRestMs?: number;
}

export function createWorkerDeps(setup: WorkerSetup): WorkerDeps & { pool: DynamoDbHostPool } {
  const db = documentClient(setup.clients);
  const pool = [...(setup.sdHosts ?? []), ...(setup.sdHost ? [setup.sdHost] : [])];
  if (pool.length === 0) throw new Error('Worker configuration: at least one SD WebUI host is needed');
  const jobs: JobStore = new DynamoDbJobStore(db, setup.tableName);
  const images: ImageStore = new S3ImageStore(s3Client(setup.clients), setup.bucketName);
  const hosts = new Map<string, SdWebUi>(pool.map((h) => [hostId(h.baseUrl), new SdWebUiClient(h)]));
  const calibration = { secondsPerStep: setup.secondsPerStep ?? 0.05 };
  return {
    jobs,
    images,
    pool: new DynamoDbHostPool(db, setup.tableName, hostSpecs(pool), {
      callbacks: setup.callbacks,
      restMs: setup.hostRestMs,
      calibration,
    }),
    callbacks: setup.callbacks,
    hosts,
    fetcher: new GuardedImageFetcher(setup.fetchPolicy),
    catalog: new DynamoDbCheckpointCatalog(db, setup.tableName),
    now: () => new Date(),
    progressPollMs: setup.progressPollMs ?? 1000,
    progressWriteMs: setup.progressWriteMs ?? PROGRESS_WRITE_MS,
    // Below the 900 s Task time-out so a stuck host fails the call, not the whole state.
    callTimeoutMs: (params) => 1000 * callDeadlineSeconds(params, calibration, 840),
    // 1 + 3 tries, 2 s doubling to at most 30 s: what the state machine's Retry did per iteration.
    iterationRetry: { attempts: 4, firstDelayMs: setup.retryFirstDelayMs ?? 2000, maxDelayMs: 30_000 },
    // The Lambda's 900 s less the margin its handler keeps back.
    runBudgetMs: setup.runBudgetMs ?? 870_000,
  };
}
