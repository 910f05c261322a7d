import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { type ClientOptions, documentClient, s3Client } from '../adapters/aws-clients.ts';
import { DynamoDbJobHousekeeping } from '../adapters/dynamodb-job-housekeeping.ts';
import { DynamoDbTokenStore } from '../adapters/dynamodb-token-store.ts';
import { loadPresetCatalog } from '../adapters/preset-files.ts';
import { S3ImageStore } from '../adapters/s3-image-store.ts';
import { renderContactSheet } from '../adapters/sharp-contact-sheet.ts';
import { shrinkToJpeg } from '../adapters/sharp-shrink.ts';
import { DEFAULT_CALIBRATION } from '../core/estimate.ts';
import {
  createGatewayDeps,
  createWorkerDeps,
  gatewaySettings,
  type PoolHost,
  poolHosts,
  taskHandlers,
} from '../lambdas/composition.ts';
import { createApp } from '../mcp-gateway/app.ts';
import { tokenVerifier } from '../mcp-gateway/auth/bearer.ts';
import type { GatewayDeps } from '../mcp-gateway/deps.ts';
import { type LocalConfig, sharedSettingsOf } from './config.ts';
import { clientUrl, removeConnectionFile, writeConnectionFile } from './connection-file.ts';
import { type DataDirLock, lockDataDir } from './data-dir-lock.ts';
import type { EmbeddedStores } from './embedded-stores.ts';
import { likeFunctionUrl } from './function-url-limit.ts';
import { type MaintenanceDeps, resumeUnfinishedJobs, sweepExpired } from './maintenance.ts';
import { type Simulator, startSimulator } from './simulator/server.ts';
import { StartRefused } from './start-refused.ts';
import {
  LocalOrchestrator,
  type TaskHandlers,
  type WorkflowEvent,
} from './step-functions/local-orchestrator.ts';
import { LocalTaskCallbacks } from './step-functions/local-task-callbacks.ts';
import { TaskTokens, type Timers } from './step-functions/task-tokens.ts';
import { startStoresThread } from './stores-thread.ts';
import { resolveToken } from './token-file.ts';

export interface EmbeddedStack {
  mcpUrl: string;
  token: string;
  /** The GPU host URLs, comma-separated (without credentials). */
  sdWebUiUrl: string;
  /** The first simulated host, when the stack runs simulators. */
  simulator?: Simulator;
  simulators: Simulator[];
  orchestrator: LocalOrchestrator;
  deps: GatewayDeps;
  stores: EmbeddedStores;
  /** Jobs found unfinished at start and started again. */
  resumed: string[];
  /** One sweep as the timer makes it; `nowSeconds` lets a test look days ahead. */
  sweep(nowSeconds?: number): Promise<{ items: number; objects: number }>;
  stop(): Promise<void>;
}

export interface StackOverrides {
  /** Seconds between Step Functions retries; tests shorten the back-off. */
  retryIntervalOverrides?: Record<string, number | number[]>;
  progressPollMs?: number;
  progressWriteMs?: number;
  /** First back-off of an iteration retried after a host failure (2 s); tests shorten it. */
  retryFirstDelayMs?: number;
  /** A generate task's time before it pauses and the state machine starts it again. */
  runBudgetMs?: number;
  /** How long a failing GPU host rests (30 s); tests shorten it. */
  hostRestMs?: number;
  /** The timers of callback tasks' heartbeats and time-outs; tests fire them by hand. */
  taskTimers?: Timers;
  /** Optional instrumentation for the benchmark; off (undefined) in `npm start`. */
  metrics?: StackMetrics;
}

export interface StackMetrics {
  /** Every event of every execution (state entered, retried, ...). */
  event?: (jobId: string, event: WorkflowEvent) => void;
  /** Each Task handler call: state, input, start (epoch ms), wall time, and its error if it threw. */
  task?: (state: string, input: unknown, startedAt: number, ms: number, error?: unknown) => void;
  /** Each AWS SDK client the workers and the gateway use, to add middleware. */
  instrumentClient?: ClientOptions['instrument'];
}

function timed(handlers: TaskHandlers, report: NonNullable<StackMetrics['task']>): TaskHandlers {
  const wrap = (state: string, handler: TaskHandlers[keyof TaskHandlers]) => async (input: unknown) => {
    const startedAt = performance.timeOrigin + performance.now();
    const done = (error?: unknown) =>
      report(state, input, startedAt, performance.timeOrigin + performance.now() - startedAt, error);
    try {
      const output = await handler(input);
      done();
      return output;
    } catch (error) {
      done(error);
      throw error;
    }
  };
  return Object.fromEntries(Object.entries(handlers).map(([s, h]) => [s, wrap(s, h)])) as TaskHandlers;
}

type Fetch = (request: Request) => Response | Promise<Response>;

/** Everything `npm start` runs, in this process: stores, simulator, workflow, gateway. */
export async function startEmbeddedStack(
  config: LocalConfig,
  overrides: StackOverrides = {},
): Promise<EmbeddedStack> {
  // What another stack can hold is taken first, so a refused start touches no data and starts nothing.
  const lock = await lockDataDir(config.SDBATCH_DATA_DIR);
  // Requests that arrive while the rest starts wait for the gateway.
  const gateway = Promise.withResolvers<Fetch>();
  let server: Server;
  try {
    server = await listen(
      async (request) => (await gateway.promise)(request),
      config.SDBATCH_HOST,
      config.SDBATCH_PORT,
    );
  } catch (error) {
    await lock.release();
    throw (error as NodeJS.ErrnoException).code === 'EADDRINUSE'
      ? new StartRefused(
          `Port ${config.SDBATCH_PORT} on ${config.SDBATCH_HOST} is in use: stop what listens there, or set SDBATCH_PORT to another port (0 picks a free one).`,
        )
      : error;
  }
  try {
    return await startServices(server, gateway.resolve, config, overrides, lock);
  } catch (error) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await lock.release();
    throw error;
  }
}

/** The stores, simulators, workflow and gateway, started once the data dir and the port are this stack's. */
async function startServices(
  server: Server,
  openGateway: (fetch: Fetch) => void,
  config: LocalConfig,
  overrides: StackOverrides,
  lock: DataDirLock,
): Promise<EmbeddedStack> {
  const token = await resolveToken(config.SDBATCH_DATA_DIR, config.SDBATCH_TOKEN);
  const stores = await startStoresThread(config.SDBATCH_DATA_DIR);
  const simulators = config.SD_WEBUI_URL
    ? []
    : await Promise.all(
        Array.from({ length: config.SDBATCH_SIM_HOSTS }, (_, i) =>
          startSimulator({ port: 0, stepMs: config.SDBATCH_SIM_STEP_MS, name: `sim-${i}` }),
        ),
      );
  for (const sim of simulators) sim.setFaults(config.SDBATCH_SIM_FAULTS);
  const simulator = simulators[0];
  const sdHosts: PoolHost[] = poolHosts(config.SD_WEBUI_URL ?? simulators.map((s) => s.url), {
    depth: config.SDBATCH_HOST_DEPTH,
    requestLimits: config.SDBATCH_HOST_REQUEST_LIMIT_SECONDS,
  }).map((host) => ({ ...host, ...withBasicAuth(host.baseUrl) }));
  const slots = sdHosts.length * config.SDBATCH_HOST_DEPTH;
  const concurrency = config.SDBATCH_CONCURRENCY ?? slots;

  // The orchestrator's open callback tasks: the workers answer them as Lambdas answer Step Functions.
  const taskTokens = new TaskTokens(overrides.taskTimers);
  const workers = createWorkerDeps({
    callbacks: new LocalTaskCallbacks(taskTokens),
    tableName: stores.tableName,
    bucketName: stores.bucketName,
    sdHosts,
    clients: overrides.metrics?.instrumentClient
      ? { ...stores.clients, instrument: overrides.metrics.instrumentClient }
      : stores.clients,
    progressPollMs: overrides.progressPollMs,
    progressWriteMs: overrides.progressWriteMs,
    retryFirstDelayMs: overrides.retryFirstDelayMs,
    runBudgetMs: overrides.runBudgetMs,
    hostRestMs: overrides.hostRestMs,
    fetchPolicy: { allowHosts: config.SDBATCH_FETCH_ALLOW_HOSTS },
    secondsPerStep: simulator ? Math.max(config.SDBATCH_SIM_STEP_MS / 1000, 0.05) : undefined,
  });
  const images = { renderContactSheet, shrinkImage: shrinkToJpeg };
  const handlers: TaskHandlers = taskHandlers(workers, images);
  const { metrics } = overrides;
  const orchestrator = new LocalOrchestrator({
    tokens: taskTokens,
    handlers: metrics?.task ? timed(handlers, metrics.task) : handlers,
    retryIntervalOverrides: overrides.retryIntervalOverrides,
    onEvent: metrics?.event,
  });

  const presets = await loadPresetCatalog(config.SDBATCH_PRESETS_DIR);
  for (const problem of presets.problems) {
    console.warn(
      `preset ${problem.file}${problem.line ? `:${problem.line}` : ''} skipped: ${problem.message}`,
    );
  }
  const { catalog } = workers;
  // The hosts' checkpoint lists, read now so the gateway can refuse a start naming one that no
  // host has from the first job on (the workers keep them fresh). Best effort: a host down now
  // only leaves its list unknown.
  const reads = Promise.all(
    [...workers.hosts].map(([id, sd]) =>
      sd
        .checkpoints()
        .then((list) => catalog.record(id, list))
        .catch(() => undefined),
    ),
  );
  // A host that does not answer must not hold up the start.
  await Promise.race([reads, new Promise((resolve) => setTimeout(resolve, 2_000).unref())]);
  const deps = createGatewayDeps(
    workers,
    orchestrator,
    presets,
    gatewaySettings({
      ...sharedSettingsOf(config),
      concurrency,
      gpuHosts: sdHosts.length,
      calibration: simulator ? { secondsPerStep: config.SDBATCH_SIM_STEP_MS / 1000 } : DEFAULT_CALIBRATION,
    }),
    images,
  );
  const db = documentClient(stores.clients);
  const maintenance: MaintenanceDeps = {
    housekeeping: new DynamoDbJobHousekeeping(db, stores.tableName),
    jobs: deps.jobs,
    images: new S3ImageStore(s3Client(stores.clients), stores.bucketName),
  };
  const sweep = () =>
    sweepExpired(maintenance, Math.floor(Date.now() / 1000)).catch((error) =>
      console.error('sweep failed', error),
    );
  await sweep();
  const sweeper = setInterval(sweep, config.SDBATCH_SWEEP_SECONDS * 1000);
  sweeper.unref();
  // This process is the pool's only user: leases still held are a killed predecessor's.
  await workers.pool.clearLeases();
  const resumed = await resumeUnfinishedJobs(maintenance, orchestrator, Date.now());

  const tokens = new DynamoDbTokenStore(db, stores.tableName);
  const port = (server.address() as AddressInfo).port;
  const host = config.SDBATCH_HOST.includes(':') ? `[${config.SDBATCH_HOST}]` : config.SDBATCH_HOST;
  const names = [...new Set(['127.0.0.1', 'localhost', '[::1]', host, ...config.SDBATCH_ALLOWED_HOSTS])];
  const app = createApp({
    deps,
    verifyToken: tokenVerifier(token, tokens),
    tokens,
    allowedHosts: names.map((name) => `${name}:${port}`.toLowerCase()),
    allowedOrigins: names.map((name) => `http://${name}:${port}`.toLowerCase()),
  });
  openGateway(likeFunctionUrl(app.fetch));
  const mcpUrl = `http://${host}:${port}/mcp`;
  await writeConnectionFile(config.SDBATCH_DATA_DIR, { url: clientUrl(mcpUrl), token });

  return {
    mcpUrl,
    token,
    sdWebUiUrl: sdHosts.map((h) => h.baseUrl).join(', '),
    simulator,
    simulators,
    orchestrator,
    deps,
    stores,
    resumed,
    sweep: (nowSeconds = Math.floor(Date.now() / 1000)) => sweepExpired(maintenance, nowSeconds),
    stop: async () => {
      clearInterval(sweeper);
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await removeConnectionFile(config.SDBATCH_DATA_DIR);
      await orchestrator.drain(true);
      await Promise.all(simulators.map((sim) => sim.close()));
      await stores.close();
      await lock.release();
    },
  };
}

function listen(fetch: Fetch, hostname: string, port: number) {
  return new Promise<Server>((resolve, reject) => {
    // Without a createServer option, serve makes a node:http server.
    const server = serve({ fetch, hostname, port }, () => resolve(server)) as Server;
    server.once('error', reject);
  });
}

/** http://user:pass@host becomes the URL without credentials plus an Authorization header. */
function withBasicAuth(url: string): PoolHost {
  const parsed = new URL(url);
  if (!parsed.username) return { baseUrl: url };
  const credentials = `${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`;
  parsed.username = '';
  parsed.password = '';
  return {
    baseUrl: parsed.toString(),
    headers: { authorization: `Basic ${Buffer.from(credentials).toString('base64')}` },
  };
}
