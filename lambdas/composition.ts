import type { Context } from 'aws-lambda';
import { type ClientOptions, documentClient, s3Client } from '../adapters/aws-clients.ts';
import { DynamoDbHostNameCatalog } from '../adapters/dynamodb-host-name-catalog.ts';
import { DynamoDbHostPool } from '../adapters/dynamodb-host-pool.ts';
import { DynamoDbJobStore } from '../adapters/dynamodb-job-store.ts';
import { DynamoDbTokenStore } from '../adapters/dynamodb-token-store.ts';
import { type FetchPolicy, GuardedImageFetcher } from '../adapters/guarded-fetcher.ts';
import { S3ImageStore } from '../adapters/s3-image-store.ts';
import { SdWebUiClient, type SdWebUiHost } from '../adapters/sd-webui-client.ts';
import { type Calibration, callDeadlineSeconds } from '../core/estimate.ts';
import type { HostNameCatalog } from '../core/host-names.ts';
import { isTerminal } from '../core/job-status.ts';
import { type Metrics, NO_METRICS } from '../core/metrics.ts';
import { type HostSpec, hostIdOf as hostId } from '../core/pool/host-pool.ts';
import type {
  ContactSheetRenderer,
  HostPool,
  ImageFetcher,
  ImageStore,
  JobStore,
  Orchestrator,
  SdWebUi,
  TaskCallbacks,
} from '../core/ports.ts';
import type { PresetCatalog } from '../core/presets/catalog.ts';
import { DEFAULT_SETTINGS, requestLimitsOf, type SharedSettings } from '../core/settings.ts';
import type { RunDeps } from '../core/workflow/generate-run.ts';
import { PROGRESS_WRITE_MS } from '../core/workflow/progress-reporter.ts';
import { coalesceJobReads } from '../mcp-gateway/coalesced-reads.ts';
import type { GatewayDeps, GatewaySettings } from '../mcp-gateway/deps.ts';
import { hostRateReaders } from '../mcp-gateway/recent-read.ts';
import { TASK_FUNCTIONS, type TaskStateName } from '../workflow/definition.ts';
import { createFinalizeJobHandler } from './finalize-job.ts';
import { createGenerateImagesHandler } from './generate-images.ts';
import { meteredImages, meteredPool } from './metered-ports.ts';
import { createRecordFailedIterationHandler } from './record-failed-iteration.ts';
import { createRenderContactSheetHandler } from './render-contact-sheet.ts';
import { createWaitForSlotHandler } from './wait-for-slot.ts';

/*
 * The one composition: the workers' and the gateway's dependencies from settings and adapters.
 * The Lambda entries and the embedded stack only choose the endpoints and the orchestrator.
 */

/** Everything the workflow's task handlers need; built once per Lambda instance (or per embedded stack). */
export type WorkerDeps = RunDeps & {
  /** How long a generate task may run where no Lambda context says so (the embedded stack). */
  runBudgetMs: number;
  /** Ends the waits of runners queued for a GPU slot (Step Functions' SendTaskSuccess). */
  callbacks: TaskCallbacks;
  /** Where the handlers put what they measured (core/metrics.ts). */
  metrics: Metrics;
};

/** A GPU host of the pool: where it is, how to authenticate, how many calls it may hold. */
export interface PoolHost extends SdWebUiHost {
  depth?: number;
  /** How long a request to it may last, its wait in SD WebUI's queue included (a tunnel's limit). */
  requestLimitSeconds?: number;
}

/** The pool from its URLs and the per-host settings: the request limits are one for all, or one per URL. */
export function poolHosts(
  urls: readonly string[],
  shared: { depth: number; headers?: Record<string, string>; requestLimits?: readonly number[] },
): PoolHost[] {
  const limits = requestLimitsOf(shared.requestLimits, urls.length);
  return urls.map((baseUrl, i) => ({
    baseUrl,
    depth: shared.depth,
    ...(shared.headers ? { headers: shared.headers } : {}),
    ...(limits[i] ? { requestLimitSeconds: limits[i] } : {}),
  }));
}

const hostSpecs = (hosts: PoolHost[]): HostSpec[] =>
  hosts.map((h) => ({ id: hostId(h.baseUrl), depth: h.depth ?? DEFAULT_SETTINGS.hostDepth }));

/** Where the stores are: the table, the bucket, and the clients' endpoints (the embedded stores' or AWS's). */
export interface StoresSetup {
  tableName: string;
  bucketName: string;
  clients?: ClientOptions;
}

/** The stores both sides use: the one place that picks the job store, image store and catalog adapters. */
function createStores(setup: StoresSetup) {
  const db = documentClient(setup.clients);
  const jobs: JobStore = new DynamoDbJobStore(db, setup.tableName);
  const images: ImageStore = new S3ImageStore(s3Client(setup.clients), setup.bucketName);
  const catalog: HostNameCatalog = new DynamoDbHostNameCatalog(db, setup.tableName);
  return { db, jobs, images, catalog };
}

export interface WorkerSetup extends StoresSetup {
  /** One host (the common case) or a pool. */
  sdHost?: PoolHost;
  sdHosts?: PoolHost[];
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
  /** CloudWatch in a Lambda; nowhere by default. */
  metrics?: Metrics;
  /** How long iterations are tried while every host fails (OUTAGE_MS by default); tests shorten it. */
  outageMs?: number;
  /** How long a host may show no sign of working on a call (HANG_MS by default); tests shorten it. */
  hangMs?: number;
}

export function createWorkerDeps(
  setup: WorkerSetup,
): WorkerDeps & GatewayStores & { pool: DynamoDbHostPool; catalog: HostNameCatalog } {
  const pool = [...(setup.sdHosts ?? []), ...(setup.sdHost ? [setup.sdHost] : [])];
  if (pool.length === 0) throw new Error('Worker configuration: at least one SD WebUI host is needed');
  const { db, jobs, images, catalog } = createStores(setup);
  const hosts = new Map<string, SdWebUi>(pool.map((h) => [hostId(h.baseUrl), new SdWebUiClient(h)]));
  const calibration = { secondsPerStep: setup.secondsPerStep ?? DEFAULT_SETTINGS.secondsPerStep };
  const metrics = setup.metrics ?? NO_METRICS;
  return {
    jobs,
    images: meteredImages(images, metrics),
    pool: meteredPool(
      new DynamoDbHostPool(db, setup.tableName, hostSpecs(pool), {
        callbacks: setup.callbacks,
        hasEnded: async (jobId) => {
          const job = await jobs.get(jobId);
          return !job || isTerminal(job.status);
        },
        restMs: setup.hostRestMs,
        calibration,
      }),
      metrics,
    ),
    callbacks: setup.callbacks,
    metrics,
    hosts,
    fetcher: new GuardedImageFetcher(setup.fetchPolicy),
    catalog,
    now: () => new Date(),
    progressPollMs: setup.progressPollMs ?? 1000,
    progressWriteMs: setup.progressWriteMs ?? PROGRESS_WRITE_MS,
    // Below the 900 s Task time-out so a stuck host fails the call, not the whole state.
    callTimeoutMs: (params) => 1000 * callDeadlineSeconds(params, calibration, 840),
    calibration,
    requestLimits: new Map(
      pool.flatMap((h) =>
        h.requestLimitSeconds
          ? [
              [
                hostId(h.baseUrl),
                { seconds: h.requestLimitSeconds, depth: h.depth ?? DEFAULT_SETTINGS.hostDepth },
              ],
            ]
          : [],
      ),
    ),
    // 1 + 3 tries, 2 s doubling to at most 30 s: what the state machine's Retry did per iteration.
    iterationRetry: { attempts: 4, firstDelayMs: setup.retryFirstDelayMs ?? 2000, maxDelayMs: 30_000 },
    // The Lambda's 900 s less the margin its handler keeps back.
    runBudgetMs: setup.runBudgetMs ?? 870_000,
    ...(setup.outageMs === undefined ? {} : { outageMs: setup.outageMs }),
    ...(setup.hangMs === undefined ? {} : { hangMs: setup.hangMs }),
  };
}

/**
 * What a task handler reads of its invocation: Lambda's context, or the embedded orchestrator's,
 * whose `signal` aborts when it times the handler out (Lambda freezes the handler instead).
 */
export type TaskContext = Pick<Context, 'getRemainingTimeInMillis'> & { signal?: AbortSignal };

export type TaskHandler = (event: unknown, context?: TaskContext) => Promise<unknown>;

/**
 * The image adapters (sharp): passed in rather than imported here, so only the bundles that draw
 * (the gateway's, the contact sheet task's) carry sharp.
 */
export interface ImageAdapters {
  renderContactSheet: ContactSheetRenderer;
  shrinkImage: NonNullable<GatewayDeps['shrinkImage']>;
}

const noRenderer = async (): Promise<never> => {
  throw new Error('This function has no contact sheet renderer');
};

/** How each Task state's handler is made from its function's dependencies. */
const HANDLER_FACTORIES: Record<
  TaskStateName,
  (workers: WorkerDeps, images: Partial<ImageAdapters>) => TaskHandler
> = {
  'Generate images': (workers) => createGenerateImagesHandler(workers),
  'Wait for the GPU pool': (workers) => createWaitForSlotHandler(workers),
  'Wait for a GPU slot': (workers) => createWaitForSlotHandler(workers),
  'Record failed iterations': (workers) => createRecordFailedIterationHandler(workers),
  'Render contact sheet': (workers, { renderContactSheet: render }) =>
    render ? createRenderContactSheetHandler({ ...workers, render }) : noRenderer,
  'Finalize job': (workers) => createFinalizeJobHandler(workers),
};

/** One Task state's handler: what its Lambda entry runs. */
export const taskHandler = (
  state: TaskStateName,
  workers: WorkerDeps,
  images: Partial<ImageAdapters> = {},
): TaskHandler => HANDLER_FACTORIES[state](workers, images);

/** Each Task state's handler, by state name, all on the same dependencies. */
export const taskHandlers = (
  workers: WorkerDeps,
  images: Partial<ImageAdapters> = {},
): Record<TaskStateName, TaskHandler> =>
  Object.fromEntries(
    (Object.keys(TASK_FUNCTIONS) as TaskStateName[]).map((state) => [
      state,
      taskHandler(state, workers, images),
    ]),
  ) as Record<TaskStateName, TaskHandler>;

/** The gateway's view of the settings. */
export const gatewaySettings = (
  settings: Pick<
    SharedSettings,
    | 'retentionDays'
    | 'urlTtlSeconds'
    | 'maxImagesPerJob'
    | 'maxActiveJobs'
    | 'maxPromptChars'
    | 'maxRequestBytes'
  > & { concurrency: number; gpuHosts: number; calibration: Calibration; workersReachInternet?: boolean },
): GatewaySettings => ({
  concurrency: settings.concurrency,
  hosts: settings.gpuHosts,
  retentionSeconds: settings.retentionDays * 86_400,
  calibration: settings.calibration,
  urlTtlSeconds: settings.urlTtlSeconds,
  limits: {
    maxImagesPerJob: settings.maxImagesPerJob,
    maxActiveJobsPerCaller: settings.maxActiveJobs,
    maxPromptChars: settings.maxPromptChars,
    maxRequestBytes: settings.maxRequestBytes,
  },
  workersReachInternet: settings.workersReachInternet,
});

/** The stores the gateway reads and writes; the pool and the host name catalog are the workers' records, read only. */
export interface GatewayStores {
  jobs: JobStore;
  images: ImageStore;
  pool: Pick<HostPool, 'hostRates' | 'callsOf'>;
  catalog: Pick<HostNameCatalog, 'read'>;
  fetcher: Pick<ImageFetcher, 'check'>;
}

/** The gateway's stores on their own (the gateway Lambda, which builds no workers). */
export function createGatewayStores(
  setup: StoresSetup & { fetchPolicy?: Partial<FetchPolicy> },
): GatewayStores & { tokens: DynamoDbTokenStore } {
  const { db, ...stores } = createStores(setup);
  return {
    ...stores,
    // No hosts: only the measured rates and the leases are read.
    pool: new DynamoDbHostPool(db, setup.tableName, []),
    // Only its start-time check: the gateway refuses a URL no worker could fetch (the workers'
    // policy, so a host the embedded stack's tests allow is allowed at the door too).
    fetcher: new GuardedImageFetcher(setup.fetchPolicy),
    tokens: new DynamoDbTokenStore(db, setup.tableName),
  };
}

/** What the tools need, from the stores, the orchestrator that starts jobs, the presets and the settings. */
export function createGatewayDeps(
  stores: GatewayStores,
  orchestrator: Orchestrator,
  presets: PresetCatalog,
  settings: GatewaySettings,
  images: ImageAdapters,
  metrics: Metrics = NO_METRICS,
): GatewayDeps {
  const { pool, catalog, fetcher } = stores;
  return {
    jobs: coalesceJobReads(stores.jobs),
    images: stores.images,
    orchestrator,
    presets,
    renderContactSheet: images.renderContactSheet,
    now: () => new Date(),
    ...hostRateReaders(() => pool.hostRates()),
    callsInFlight: (jobId) => pool.callsOf(jobId),
    hostNames: () => catalog.read(),
    checkImageUrl: (url) => fetcher.check(url),
    shrinkImage: images.shrinkImage,
    settings,
    metrics,
  };
}
