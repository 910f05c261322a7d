import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { ClientOptions } from '../adapters/aws-clients.ts';
import { loadPresetCatalog } from '../adapters/preset-files.ts';
import { renderContactSheet } from '../adapters/sharp-contact-sheet.ts';
import { shrinkToJpeg } from '../adapters/sharp-shrink.ts';
import { DEFAULT_CALIBRATION } from '../core/estimate.ts';
import { readHostNames } from '../core/host-names.ts';
import type { Metrics } from '../core/metrics.ts';
import { createGatewayDeps, gatewaySettings, type PoolHost, poolHosts } from '../lambdas/composition.ts';
import { createEmbeddedFunctions, type StatesAuthorizer } from '../lambdas/composition-embedded.ts';
import { createApp } from '../mcp-gateway/app.ts';
import { tokenVerifier } from '../mcp-gateway/auth/bearer.ts';
import type { GatewayDeps } from '../mcp-gateway/deps.ts';
import { type LocalConfig, sharedSettingsOf } from './config.ts';
import { clientUrl, removeConnectionFile, writeConnectionFile } from './connection-file.ts';
import { type DataDirLock, lockDataDir } from './data-dir-lock.ts';
import { storeClients } from './embedded-stores.ts';
import { likeFunctionUrl } from './function-url-limit.ts';
import { type MaintenanceDeps, resumeUnfinishedJobs, sweepExpired } from './maintenance.ts';
import { type Simulator, startSimulator } from './simulator/server.ts';
import { StartRefused } from './start-refused.ts';
import {
  LocalOrchestrator,
  type TaskContext,
  type TaskHandlers,
  type WorkflowEvent,
} from './step-functions/local-orchestrator.ts';
import { LocalTaskCallbacks } from './step-functions/local-task-callbacks.ts';
import { TaskTokens, type Timers } from './step-functions/task-tokens.ts';
import type { Authorize } from './store-front/front.ts';
import { LOCAL_ACCOUNT, LOCAL_STATES_ARNS } from './store-front/requested-actions.ts';
import { type SupervisedStores, type SupervisionOptions, superviseStores } from './stores-supervisor.ts';
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
  stores: SupervisedStores;
  /** Jobs found unfinished at start and started again. */
  resumed: string[];
  /** Settles with a one-line reason if the stores stopped and cannot be brought back: `npm start` exits 1. */
  gaveUp: Promise<string>;
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
  /** How long a job's iterations are tried while every GPU host fails (2 min); tests shorten it. */
  outageMs?: number;
  /** How long a GPU host may show no sign of working on a call before it counts as hung (90 s). */
  hangMs?: number;
  /** The timers of callback tasks' heartbeats and time-outs; tests fire them by hand. */
  taskTimers?: Timers;
  /** Optional instrumentation for the benchmark; off (undefined) in `npm start`. */
  metrics?: StackMetrics;
  /** The built-in simulators answer with flat images (the bench's scale scenarios; see SimulatorOptions). */
  flatImages?: boolean;
  /** Task tokens padded to this many characters, as long as AWS's (the bench sizes the items that hold them). */
  taskTokenLength?: number;
  /**
   * A module whose `createAuthorizer()` evaluates each function role's requests to the stores and
   * to Step Functions against the policies the CDK app synthesizes (the tests name one). Without
   * it every request must still be signed with a role's keys, but no policy is applied.
   */
  iamAuthorizerModule?: string;
  /** How the stores are watched and restarted; tests inject the thread's faults, the free space and the timer. */
  storesSupervision?: SupervisionOptions;
}

export interface StackMetrics {
  /** Every event of every execution (state entered, retried, ...). */
  event?: (jobId: string, event: WorkflowEvent) => void;
  /** Each Task handler call: state, input, start (epoch ms), wall time, and its error if it threw. */
  task?: (state: string, input: unknown, startedAt: number, ms: number, error?: unknown) => void;
  /** Each AWS SDK client the workers and the gateway use, to add middleware. */
  instrumentClient?: ClientOptions['instrument'];
  /** The operational metrics the handlers emit (in AWS, to CloudWatch; here nowhere by default). */
  emitted?: Metrics;
}

function timed(handlers: TaskHandlers, report: NonNullable<StackMetrics['task']>): TaskHandlers {
  const wrap =
    (state: string, handler: TaskHandlers[keyof TaskHandlers]) =>
    async (input: unknown, context?: TaskContext) => {
      const startedAt = performance.timeOrigin + performance.now();
      const done = (error?: unknown) =>
        report(state, input, startedAt, performance.timeOrigin + performance.now() - startedAt, error);
      try {
        const output = await handler(input, context);
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
  const stores = await superviseStores(config.SDBATCH_DATA_DIR, {
    ...overrides.storesSupervision,
    threadOptions: { authorizerModule: overrides.iamAuthorizerModule },
  });
  const simulators = config.SD_WEBUI_URL
    ? []
    : await Promise.all(
        Array.from({ length: config.SDBATCH_SIM_HOSTS }, (_, i) =>
          startSimulator({
            port: 0,
            stepMs: config.SDBATCH_SIM_STEP_MS,
            name: `sim-${i}`,
            flatImages: overrides.flatImages,
          }),
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
  const taskTokens = new TaskTokens(overrides.taskTimers, overrides.taskTokenLength);
  const instrumentClient = overrides.metrics?.instrumentClient;
  // Every client of the stack answers with the stores' stop, while they are stopped.
  const instrument: NonNullable<ClientOptions['instrument']> = (service, client) => {
    stores.health.guard(client);
    instrumentClient?.(service, client);
  };
  const functions = createEmbeddedFunctions(
    {
      tableName: stores.tableName,
      bucketName: stores.bucketName,
      clientsFor: (role) => ({ ...storeClients(stores, role), instrument }),
    },
    {
      callbacks: new LocalTaskCallbacks(taskTokens),
      sdHosts,
      progressPollMs: overrides.progressPollMs,
      progressWriteMs: overrides.progressWriteMs,
      retryFirstDelayMs: overrides.retryFirstDelayMs,
      runBudgetMs: overrides.runBudgetMs,
      hostRestMs: overrides.hostRestMs,
      outageMs: overrides.outageMs,
      hangMs: overrides.hangMs,
      fetchPolicy: { allowHosts: config.SDBATCH_FETCH_ALLOW_HOSTS },
      secondsPerStep: simulator ? Math.max(config.SDBATCH_SIM_STEP_MS / 1000, 0.05) : undefined,
      metrics: overrides.metrics?.emitted,
    },
    overrides.iamAuthorizerModule
      ? {
          authorize: statesAuthorizer(await loadAuthorizer(overrides.iamAuthorizerModule)),
          arns: LOCAL_STATES_ARNS,
        }
      : undefined,
  );
  const images = { renderContactSheet, shrinkImage: shrinkToJpeg };
  const handlers: TaskHandlers = functions.handlers(images);
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
  const { catalog, hosts } = functions.workers['Generate images'];
  // The hosts' lists of names, read now so the gateway can refuse a start naming one that no
  // host has from the first job on (the workers keep them fresh). Best effort: a host down now
  // only leaves its lists unknown.
  const reads = Promise.all(
    [...hosts].map(([id, sd]) =>
      readHostNames(sd, undefined, true)
        .then((names) => catalog.record(id, names))
        .catch(() => undefined),
    ),
  );
  // A host that does not answer must not hold up the start.
  await Promise.race([reads, new Promise((resolve) => setTimeout(resolve, 2_000).unref())]);
  const deps = createGatewayDeps(
    functions.gateway,
    functions.gatewayOrchestrator(orchestrator),
    presets,
    gatewaySettings({
      ...sharedSettingsOf(config),
      concurrency,
      gpuHosts: sdHosts.length,
      calibration: simulator ? { secondsPerStep: config.SDBATCH_SIM_STEP_MS / 1000 } : DEFAULT_CALIBRATION,
    }),
    images,
    metrics?.emitted,
  );
  const maintenance: MaintenanceDeps = functions.maintenance;
  // While the stores are stopped their one line has said why; a sweep would only fail again.
  const sweep = async () => {
    if (stores.health.down) return;
    await sweepExpired(maintenance, Math.floor(Date.now() / 1000)).catch((error) =>
      console.error('sweep failed', error),
    );
  };
  await sweep();
  const sweeper = setInterval(sweep, config.SDBATCH_SWEEP_SECONDS * 1000);
  sweeper.unref();
  const resume = async () => {
    // This process is the pool's only user: leases still held are a killed predecessor's.
    await functions.maintenance.pool.clearLeases();
    return resumeUnfinishedJobs(maintenance, orchestrator, Date.now());
  };
  const resumed = await resume();
  // A stop of the stores ends the executions as a crash would, and their return resumes as a start does.
  stores.attach({ pause: () => orchestrator.drain(true), resume });

  const { tokens } = functions;
  const port = (server.address() as AddressInfo).port;
  const host = config.SDBATCH_HOST.includes(':') ? `[${config.SDBATCH_HOST}]` : config.SDBATCH_HOST;
  const names = [...new Set(['127.0.0.1', 'localhost', '[::1]', host, ...config.SDBATCH_ALLOWED_HOSTS])];
  const app = createApp({
    deps,
    verifyToken: tokenVerifier(token, tokens),
    tokens,
    allowedHosts: names.map((name) => `${name}:${port}`.toLowerCase()),
    allowedOrigins: names.map((name) => `http://${name}:${port}`.toLowerCase()),
    storesDown: () => stores.health.down,
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
    gaveUp: stores.gaveUp,
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

async function loadAuthorizer(module: string): Promise<Authorize> {
  return ((await import(module)) as { createAuthorizer(): Authorize }).createAuthorizer();
}

/** A Step Functions call refused as AWS refuses it: AccessDeniedException, naming role, action and resource. */
function statesAuthorizer(authorize: Authorize): StatesAuthorizer {
  return async (role, action, resource) => {
    if (await authorize(role, { action, resource, context: {} })) return;
    const who = `arn:${LOCAL_ACCOUNT.partition}:sts::${LOCAL_ACCOUNT.accountId}:assumed-role/${role}/sdbatch`;
    const error = new Error(`User: ${who} is not authorized to perform: ${action} on resource: ${resource}`);
    error.name = 'AccessDeniedException';
    throw error;
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
