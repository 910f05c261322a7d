/** The benchmark's measurements, each against a running stack host. */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { build } from 'esbuild';
import { BUNDLE_TARGET, CREATE_REQUIRE_BANNER, MAIN_FIELDS, nodeFlags } from '../cdk/function-runtime.ts';
import type { PeakMode } from './decode-peak.ts';
import type { StackHost } from './host.ts';
import { call, connect, jobArgs, type ResultAnswer, type StartAnswer, type StatusAnswer } from './mcp.ts';
import type { ExecutionRecord, MetricsSnapshot, TaskRecord } from './metrics.ts';
import type { HostSnapshot, MemoryAnswer, SimulatorSnapshot } from './protocol.ts';
import { epochNow, gaps, type Interval, median, percentile, sleep, sum, unionLength } from './stats.ts';

export const STEPS = 20;

/** 100 direct, sequential txt2img calls of one image each: the physical limit of one host. */
export async function directBaseline(simulatorUrl: string, calls: number) {
  const started = epochNow();
  for (let i = 0; i < calls; i++) {
    const response = await fetch(`${simulatorUrl}/sdapi/v1/txt2img`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        prompt: 'a lighthouse at dusk, benchmark',
        negative_prompt: '',
        width: 512,
        height: 512,
        steps: STEPS,
        cfg_scale: 7,
        sampler_name: 'Euler a',
        seed: 1234 + i,
        batch_size: 1,
        n_iter: 1,
      }),
    });
    const body = (await response.json()) as { images: string[] };
    if (response.status !== 200 || body.images.length !== 1) throw new Error(`direct call ${i} failed`);
    Buffer.from(body.images[0] as string, 'base64');
  }
  return { ms: epochNow() - started };
}

export interface HostUse {
  url: string;
  images: number;
  busyMs: number;
  /** From this host's first sampling start to its last sampling end. */
  windowMs: number;
  /** Busy / window. */
  busyInWindow: number;
  /** Busy / the job's whole makespan (start call to execution end). */
  busyInMakespan: number;
  leadInMs: number;
  tailMs: number;
  gapsMs: number[];
}

export interface JobRun {
  jobId: string;
  images: number;
  startCallMs: number;
  /** Start call sent to the job's completion: its "Finalize job" task done, status answering completed. */
  makespanMs: number;
  /** Start call sent to the end of the execution (work after finalizing, such as the contact sheet, included). */
  executionMs: number;
  execution: ExecutionRecord;
  hosts: HostUse[];
  snapshot: HostSnapshot;
  startedAt: number;
  /** Start call sent to the end of the last generate task (the last image stored and counted). */
  lastImageMs: number;
  /** Wall time of the job's other Task states (everything but Generate images), ms. */
  otherTasksMs: Record<string, number>;
}

/**
 * One job through MCP, from the start call to its completion (the end of the task that sets its
 * final status; the execution's end if there is no such task), with per-host GPU use.
 */
export async function timedJob(
  host: StackHost,
  client: Client,
  batchSize: number,
  nIter: number,
): Promise<JobRun> {
  await host.reset();
  const startedAt = epochNow();
  const start = await call<StartAnswer>(client, 'sdreforge_batch_start', jobArgs(batchSize, nIter));
  const startCallMs = epochNow() - startedAt;
  const execution = await host.executionEnd(start.job_id);
  if (execution.outcome !== 'ExecutionSucceeded')
    throw new Error(`job ${start.job_id}: ${execution.outcome}`);
  const snapshot = await host.snapshot();
  const tasks = snapshot.metrics.tasks.filter((t) => t.jobId === start.job_id);
  const finalize = tasks.find((t) => t.state === 'Finalize job' && !t.error);
  const endedAt = finalize ? finalize.startedAt + finalize.ms : (execution.endedAt as number);
  const makespanMs = endedAt - startedAt;
  const hosts = snapshot.simulators
    .filter((s) => s.busy.length > 0)
    .map((sim) => hostUse(sim, startedAt, endedAt, makespanMs));
  const images = sum(snapshot.simulators.map((s) => s.imagesReturned));
  if (images !== start.total_images) throw new Error(`job made ${images} of ${start.total_images} images`);
  const generated = tasks.filter((t) => t.state === 'Generate images' && !t.error);
  const lastImageMs = Math.max(...generated.map((t) => t.startedAt + t.ms)) - startedAt;
  const otherTasksMs: Record<string, number> = {};
  for (const t of tasks.filter((x) => x.state !== 'Generate images')) {
    otherTasksMs[t.state] = (otherTasksMs[t.state] ?? 0) + t.ms;
  }
  return {
    jobId: start.job_id,
    images,
    startCallMs,
    makespanMs,
    executionMs: (execution.endedAt as number) - startedAt,
    execution,
    hosts,
    snapshot,
    startedAt,
    lastImageMs,
    otherTasksMs,
  };
}

function hostUse(sim: SimulatorSnapshot, startedAt: number, endedAt: number, makespanMs: number): HostUse {
  const first = Math.min(...sim.busy.map((b) => b.start));
  const last = Math.max(...sim.busy.map((b) => b.end));
  const busyMs = unionLength(sim.busy, first, last);
  return {
    url: sim.url,
    images: sim.imagesReturned,
    busyMs,
    windowMs: last - first,
    busyInWindow: busyMs / (last - first),
    busyInMakespan: unionLength(sim.busy, startedAt, endedAt) / makespanMs,
    leadInMs: first - startedAt,
    tailMs: endedAt - last,
    gapsMs: gaps(sim.busy),
  };
}

/**
 * A job's generate tasks (runners): how many invocations, how each ended, and their wall time
 * against the GPU time of the job's samplings, which is what the Lambda bills while it waits.
 */
export function runnerUse(tasks: TaskRecord[], busy: Interval[], jobId: string) {
  const generate = tasks.filter((t) => t.state === 'Generate images' && t.jobId === jobId);
  const gpuMs = busy.reduce((t, b) => t + (b.end - b.start), 0);
  const wallMs = generate.reduce((t, x) => t + x.ms, 0);
  return {
    invocations: generate.length,
    finished: generate.filter((t) => !t.error).length,
    refused: generate.filter((t) => t.error === 'NoSlotAvailableError').length,
    paused: generate.filter((t) => t.error === 'RunPausedError').length,
    wallMs,
    gpuMs,
    /** Lambda time per GPU second: 1.0 means each GPU second is billed once. */
    waitFactor: wallMs / gpuMs,
  };
}

export interface LatencyStats {
  calls: number;
  errors: number;
  p50: number;
  p99: number;
  max: number;
  seconds: number;
  perSecond: number;
}

function latencyStats(samples: number[], errors: number, ms: number): LatencyStats {
  return {
    calls: samples.length,
    errors,
    p50: percentile(samples, 50),
    p99: percentile(samples, 99),
    max: Math.max(...samples),
    seconds: ms / 1000,
    perSecond: samples.length / (ms / 1000),
  };
}

/** One status call, its round trip added to `samples`; false when it failed. */
async function timedStatus(client: Client, jobId: string, samples: number[]): Promise<boolean> {
  const t = epochNow();
  try {
    await call<StatusAnswer>(client, 'sdreforge_batch_status', { job_id: jobId });
    samples.push(epochNow() - t);
    return true;
  } catch {
    return false;
  }
}

/** Sequential status calls by one caller. */
export async function statusLatency(client: Client, jobId: string, calls: number): Promise<LatencyStats> {
  const samples: number[] = [];
  let errors = 0;
  const begun = epochNow();
  for (let i = 0; i < calls; i++) {
    if (!(await timedStatus(client, jobId, samples))) errors++;
  }
  return latencyStats(samples, errors, epochNow() - begun);
}

/**
 * Sequential start calls by one caller (1-image jobs). Each job is cancelled right after its
 * start, untimed, so the caller stays under its active-job limit.
 */
export async function startLatency(client: Client, calls: number) {
  const samples: number[] = [];
  let errors = 0;
  const begun = epochNow();
  /** When each started job was cancelled (epoch ms). */
  const cancelledAt = new Map<string, number>();
  for (let i = 0; i < calls; i++) {
    const t = epochNow();
    let jobId: string | undefined;
    try {
      jobId = (await call<StartAnswer>(client, 'sdreforge_batch_start', jobArgs(1, 1, `start latency ${i}`)))
        .job_id;
      samples.push(epochNow() - t);
    } catch {
      errors++;
    }
    if (jobId) {
      await call(client, 'sdreforge_batch_cancel', { job_id: jobId });
      cancelledAt.set(jobId, epochNow());
    }
  }
  const stats = latencyStats(samples, errors, epochNow() - begun);
  const tenth = Math.max(1, Math.floor(samples.length / 10));
  return {
    ...stats,
    firstTenthP50: median(samples.slice(0, tenth)),
    lastTenthP50: median(samples.slice(-tenth)),
    cancelledAt,
  };
}

/** `callers` MCP clients, each calling status in a loop for `seconds`, all at once. */
export async function statusLoad(host: StackHost, jobId: string, callers: number, seconds: number) {
  const clients = await Promise.all(
    Array.from({ length: callers }, (_, i) => connect(host.ready, `sdbatch-bench-load-${i}`)),
  );
  const samples: number[] = [];
  let errors = 0;
  const cpuBefore = process.cpuUsage();
  const stackCpuBefore = await host.cpuSeconds();
  const begun = epochNow();
  const deadline = begun + seconds * 1000;
  await Promise.all(
    clients.map(async (client) => {
      while (epochNow() < deadline) {
        if (!(await timedStatus(client, jobId, samples))) errors++;
      }
    }),
  );
  const elapsed = epochNow() - begun;
  const cpu = process.cpuUsage(cpuBefore);
  const stackCpu = (await host.cpuSeconds()) - stackCpuBefore;
  await Promise.all(clients.map((c) => c.close()));
  return {
    ...latencyStats(samples, errors, elapsed),
    callers,
    loadGeneratorCores: (cpu.user + cpu.system) / 1e6 / (elapsed / 1000),
    stackCores: stackCpu / (elapsed / 1000),
    stackCpuMsPerCall: (stackCpu * 1000) / Math.max(1, samples.length),
  };
}

export interface FairnessTrial {
  /** Small job's start call to its first sampling run on the GPU. */
  waitMs: number;
  /** Small job's start call to the first of its images counted in status. */
  firstImageMs: number;
}

/**
 * A big job (batchSize x nIter) holds the only host; once it is in its stride, small jobs
 * (1 x 4) start one after another; each one's wait is measured against the big job's
 * iteration time. Sampling runs of the two jobs are told apart by their length (batch 8 vs 1).
 */
export async function fairness(host: StackHost, client: Client, trials: number) {
  await host.reset();
  const big = await call<StartAnswer>(client, 'sdreforge_batch_start', jobArgs(8, 100, 'big job'));
  for (;;) {
    const s = await call<StatusAnswer>(client, 'sdreforge_batch_status', { job_id: big.job_id });
    if (s.completed_images >= 16) break;
    await sleep(200);
  }
  const marks: Array<{ startedAt: number; firstImageAt: number }> = [];
  for (let i = 0; i < trials; i++) {
    const startedAt = epochNow();
    const small = await call<StartAnswer>(client, 'sdreforge_batch_start', jobArgs(1, 4, `small job ${i}`));
    let firstImageAt: number | undefined;
    for (;;) {
      const s = await call<StatusAnswer>(client, 'sdreforge_batch_status', { job_id: small.job_id });
      if (firstImageAt === undefined && s.completed_images >= 1) firstImageAt = epochNow();
      if (s.status !== 'pending' && s.status !== 'running') break;
      await sleep(50);
    }
    marks.push({ startedAt, firstImageAt: firstImageAt ?? Number.NaN });
  }
  const snapshot = await host.snapshot();
  await call(client, 'sdreforge_batch_cancel', { job_id: big.job_id });
  const busy = (snapshot.simulators[0] as SimulatorSnapshot).busy;
  const bigRuns = busy.filter((b) => b.end - b.start > 2000);
  const smallRuns = busy.filter((b) => b.end - b.start <= 2000);
  const bigIterationMs = median(bigRuns.map((b) => b.end - b.start));
  const results: FairnessTrial[] = marks.map((m) => {
    const first = smallRuns.find((r) => r.start >= m.startedAt);
    return {
      waitMs: first ? first.start - m.startedAt : Number.NaN,
      firstImageMs: m.firstImageAt - m.startedAt,
    };
  });
  const smallTasks = snapshot.metrics.tasks.filter(
    (t) => t.state === 'Generate images' && t.jobId !== big.job_id,
  );
  return {
    bigIterationMs,
    trials: results,
    worstIterations: Math.max(...results.map((r) => r.waitMs / bigIterationMs)),
    smallNoSlotRetries: smallTasks.filter((t) => t.error === 'NoSlotAvailableError').length,
  };
}

/** The result calls (every page) and a download of every image, as a client fetching its batch would do. */
export async function fetchResults(client: Client, jobId: string) {
  const callsMs: number[] = [];
  let downloads = 0;
  let cursor: string | undefined;
  do {
    const t = epochNow();
    const page = await call<ResultAnswer>(client, 'sdreforge_batch_result', {
      job_id: jobId,
      ...(cursor ? { cursor } : {}),
    });
    callsMs.push(epochNow() - t);
    for (const file of page.files) {
      const response = await fetch(file.url);
      if (!response.ok) throw new Error(`download of ${file.key}: ${response.status}`);
      await response.arrayBuffer();
      downloads++;
    }
    cursor = page.next_cursor;
  } while (cursor);
  return { callsMs, downloads };
}

/** The AWS requests and units counted between two snapshots of the same reset window. */
export function awsDelta(before: MetricsSnapshot, after: MetricsSnapshot) {
  const key = (a: { service: string; command: string }) => `${a.service} ${a.command}`;
  const base = new Map(before.aws.map((a) => [key(a), a]));
  return after.aws.map((a) => {
    const b = base.get(key(a));
    return {
      ...a,
      requests: a.requests - (b?.requests ?? 0),
      errors: a.errors - (b?.errors ?? 0),
      rru: a.rru - (b?.rru ?? 0),
      wru: a.wru - (b?.wru ?? 0),
    };
  });
}

/**
 * The generate task's memory for the largest answer a call may bring (8 images at 2048x2048,
 * LIMITS.pixelsPerCall): the peak RSS of a worker process storing each image on to S3 as it is
 * decoded, as it does, holding them all, as it did, and reading the answer whole, as it did
 * before that, each in a fresh process bundled and started as the function of `memoryMb` is. The
 * PNGs are incompressible bytes of a photographic 2048x2048 PNG's size, so the answer is as large
 * as a real one; the same local server takes the S3 PUTs.
 */
const PEAK_RUNS = 3;

export async function decodePeak(pngBytes: number, images: number, memoryMb: number) {
  const b64 = Array.from({ length: images }, () => randomBytes(pngBytes).toString('base64'));
  const body = Buffer.from(
    JSON.stringify({
      images: b64,
      parameters: {},
      info: JSON.stringify({ all_seeds: b64.map((_, i) => i), infotexts: b64.map(() => 'x') }),
    }),
  );
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      // An S3 PutObject: taken and dropped.
      if (req.method === 'PUT') return void res.writeHead(200, { etag: '"probe"' }).end();
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
      // In socket-sized pieces, as SD WebUI's server sends a large answer.
      let at = 0;
      const next = () => {
        while (at < body.length) {
          const ok = res.write(body.subarray(at, at + 65536));
          at += 65536;
          if (!ok) return void res.once('drain', next);
        }
        res.end();
      };
      next();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const bundleDir = await mkdtemp(join(tmpdir(), 'sdbatch-decode-peak-'));
  const probe = join(bundleDir, 'decode-peak.mjs');
  // Bundled as the CDK app bundles the function, so "before the call" is what a Lambda holds.
  await build({
    entryPoints: [fileURLToPath(new URL('./decode-peak.ts', import.meta.url))],
    outfile: probe,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: BUNDLE_TARGET,
    mainFields: MAIN_FIELDS,
    banner: { js: CREATE_REQUIRE_BANNER },
    minify: true,
    logLevel: 'warning',
  });
  const run = async (mode: PeakMode) => {
    const child = spawn(process.execPath, [...nodeFlags(memoryMb), probe, mode, `http://127.0.0.1:${port}`], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    const code = await new Promise((resolve) => child.on('exit', resolve));
    if (code !== 0) throw new Error(`decode-peak ${mode} exited ${code}`);
    const result = JSON.parse(out) as { loaded: number; peak: number; images: number; bytes: number };
    if (result.images !== images)
      throw new Error(`decode-peak ${mode} read ${result.images} of ${images} images`);
    return result;
  };
  // A peak depends on when the collector happens to run: the worst of a few fresh processes.
  const worst = async (mode: PeakMode) => {
    const runs = [];
    for (let i = 0; i < PEAK_RUNS; i++) runs.push(await run(mode));
    const top = runs.reduce((a, b) => (b.peak > a.peak ? b : a));
    return { ...top, peaks: runs.map((r) => r.peak) };
  };
  try {
    const store = await worst('store');
    const hold = await worst('hold');
    const whole = await worst('whole');
    return { bodyMiB: body.length / 2 ** 20, flags: nodeFlags(memoryMb), memoryMb, store, hold, whole };
  } finally {
    server.close();
    await rm(bundleDir, { recursive: true, force: true });
  }
}

export interface MemoryAfterJob {
  /** Start call sent to the execution's end (the contact sheet drawn), ms. */
  ms: number;
  memory: MemoryAnswer;
}

/**
 * Jobs of batchSize x nIter one after another on a stack of its own, and the stack's memory when
 * each has ended: its execution over (contact sheet included) and `settleMs` of quiet, as someone
 * watching the process between jobs would see it. Nothing forces a collection.
 */
export async function memoryAcrossJobs(
  host: StackHost,
  client: Client,
  options: { jobs: number; batchSize: number; nIter: number; side: number; steps: number; settleMs: number },
) {
  const before = await host.memory();
  const after: MemoryAfterJob[] = [];
  for (let j = 0; j < options.jobs; j++) {
    const startedAt = epochNow();
    const job = await call<StartAnswer>(client, 'sdreforge_batch_start', {
      ...jobArgs(options.batchSize, options.nIter, `memory job ${j}`),
      width: options.side,
      height: options.side,
      steps: options.steps,
    });
    const execution = await host.executionEnd(job.job_id);
    if (execution.outcome !== 'ExecutionSucceeded')
      throw new Error(`job ${job.job_id}: ${execution.outcome}`);
    const ms = epochNow() - startedAt;
    await sleep(options.settleMs);
    after.push({ ms, memory: await host.memory() });
  }
  return { before, after, peakMiB: await host.peakRssMiB() };
}
