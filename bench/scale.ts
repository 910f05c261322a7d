/**
 * The scale scenarios (issue 28): the real embedded stack (state machine, dynalite, the pool and
 * the queue) with H simulated GPU hosts and a queue of jobs, the GPU stood in by the simulator's
 * timers and its images by one flat PNG, so two cores time the coordination and not the pictures.
 * One cell: start the jobs together, wait for them all (or the cell's time cap), and price what
 * the stack did per image.
 */
import { availableParallelism } from 'node:os';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CapacityOp, PartitionPeak } from './capacity-meter.ts';
import { PRICES } from './cost.ts';
import { StackHost } from './host.ts';
import { call, connect, type StartAnswer } from './mcp.ts';
import { epochNow, sleep, sum, unionLength } from './stats.ts';

export const SCALE_DEPTH = 2;
/** A job of the grid: 20 images of 64x64, one per call. */
export const SCALE_JOB_IMAGES = 20;
/** Steps per image; the simulator adds half a step before and after, so an image is 20 steps long. */
const STEPS = 19;
/** What AWS's task tokens measure (about 1,000 characters), so the items that hold them weigh what they would. */
export const AWS_TOKEN_LENGTH = 1000;
/** The GPU time per image the issue's per-second limits are stated for. */
export const TARGET_IMAGE_MS = 5000;
/** Start calls in flight at once while the queue is filled. */
const START_CONCURRENCY = 8;

export interface ScaleCellOptions {
  hosts: number;
  /** 0: one job alone; otherwise this many jobs started together. */
  queued: number;
  /** GPU time of one image. */
  imageMs: number;
  /** Past this (from the first start), the cell is reported as not finished. */
  capMs: number;
}

/** The issue's image time for the makespan cell (16 hosts x 50 jobs) and the one-job rows. */
export const BENCH_IMAGE_MS = 500;
/** Images short enough that 50 jobs' ideal makespan is about this long... */
const IDEAL_MAKESPAN_MS = 40_000;
/** ...but not shorter than this (below it the simulator's timers, not the GPU, set the pace)... */
const MIN_IMAGE_MS = 10;
/**
 * ...and not so short that the pool makes more images a second than two cores coordinate (the
 * 16 x 50 cell's 32 a second): 64 hosts get 2 s images, or the cores, not the design, would set
 * the pace (every figure per image still counts the same requests; the per-second ones are scaled
 * to 5 s images).
 */
export const MAX_IMAGES_PER_SECOND = 32;
const MAX_CAP_MS = 240_000;
/**
 * A queue of this many jobs is measured over a window, not drained: with the GPUs held, every job
 * is started and takes its place in line; then the GPUs go, and everything the stack does is
 * counted until WINDOW_JOBS jobs have ended, the rest still queued behind them. The start phase's
 * costs (each job's start and place in line) are counted for the jobs that ended, a thousandth
 * each, so a window is priced as the whole queue would be, job for job.
 */
export const WINDOW_QUEUE = 1000;
export const WINDOW_JOBS = 50;

/**
 * The image time and cap of a cell: 0.5 s where 50 jobs' GPU time allows it, shorter on one host.
 * Every cell of a host count has the same image time, so its rows differ only by the queue.
 */
export function cellPlan(hosts: number, queued: number): ScaleCellOptions {
  const jobs = queued >= WINDOW_QUEUE ? WINDOW_JOBS : Math.max(1, queued);
  const images = jobs * SCALE_JOB_IMAGES;
  const fitting = Math.floor((IDEAL_MAKESPAN_MS * hosts) / (WINDOW_JOBS * SCALE_JOB_IMAGES));
  const paced = Math.ceil((1000 * hosts) / MAX_IMAGES_PER_SECOND);
  const imageMs = Math.max(MIN_IMAGE_MS, paced, Math.min(BENCH_IMAGE_MS, fitting));
  const ideal = (images * imageMs) / hosts;
  const capMs = Math.min(MAX_CAP_MS, Math.max(60_000, 5 * ideal + 30_000));
  return { hosts, queued, imageMs, capMs };
}

export interface ScaleCell extends ScaleCellOptions {
  jobs: number;
  /** Images the cell measures: every job's, or a window's (WINDOW_JOBS jobs). */
  images: number;
  /** Measured over a window of a queue left queued (see WINDOW_QUEUE). */
  windowed: boolean;
  finished: boolean;
  jobsEnded: number;
  imagesMade: number;
  rruPerImage: number;
  wruPerImage: number;
  dollarsPer1000: number;
  /** Peaks on the hottest partition key, in units per second as measured and scaled to 5 s images. */
  peakRead?: PartitionPeak;
  peakWrite?: PartitionPeak;
  peakReadAt5s: number;
  peakWriteAt5s: number;
  makespanMs: number;
  gpuMsPerHost: number;
  makespanRatio: number;
  busy: number;
  refusalsPerImage: number;
  failedConditionsPerImage: number;
  transitionsPerImage: number;
  /** Lambda task seconds per image beyond the GPU's sampling (the part that does not scale with it). */
  lambdaSecondsPerImage: number;
  /** The stack's CPU over the machine's cores, from the first start to the end: near 1, the cores set the pace. */
  cpuShare: number;
  submitMs: number;
  /** The operations that took the most units (command, table or index, partition key). */
  topOps: CapacityOp[];
  dynaliteChecks: { agree: number; disagree: number; example?: string };
  /** The capacity meter's own time in the stack's process, s. */
  meterSeconds: number;
}

const scaleJobArgs = (prompt: string) => ({
  prompt,
  width: 64,
  height: 64,
  steps: STEPS,
  seed: 1234,
  batch_size: 1,
  n_iter: SCALE_JOB_IMAGES,
});

/** Runs one cell on a stack of its own and stops it. */
export async function scaleCell(
  options: ScaleCellOptions,
  log: (m: string) => void = () => {},
): Promise<ScaleCell> {
  const stepMs = options.imageMs / (STEPS + 1);
  const host = await StackHost.start({
    simHosts: options.hosts,
    depth: SCALE_DEPTH,
    stepMs,
    countAws: true,
    scale: { taskTokenLength: AWS_TOKEN_LENGTH, maxActiveJobs: 1000 },
  });
  let finished = false;
  try {
    const client = await connect(host.ready);
    // A first job warms the stack (code paths, the hosts' lists of names); it is not counted.
    const warm = await call<StartAnswer>(client, 'sdreforge_batch_start', {
      ...scaleJobArgs('warm-up'),
      n_iter: 1,
    });
    await host.executionEnd(warm.job_id);
    await host.reset();
    const jobs = Math.max(1, options.queued);
    const windowed = jobs >= WINDOW_QUEUE;
    if (windowed) await host.holdGpus();
    const cpuFrom = (await host.snapshot()).cpu;
    const startedAt = epochNow();
    const ids = await startAll(client, jobs);
    const submitMs = epochNow() - startedAt;
    log(`${jobs} jobs started in ${(submitMs / 1000).toFixed(1)} s`);
    let startPhase: Awaited<ReturnType<StackHost['snapshot']>> | undefined;
    if (windowed) {
      startPhase = await host.snapshot();
      await host.reset();
      await host.releaseGpus();
    }
    const measuredFrom = epochNow();
    const releasedAt = windowed ? measuredFrom : undefined;
    const target = windowed ? WINDOW_JOBS : jobs;
    const ended = new Set<string>();
    const enough = new Promise<void>((resolve) => {
      for (const id of ids) {
        void host.executionEnd(id).then(() => {
          ended.add(id);
          if (ended.size >= target) resolve();
        });
      }
    });
    // The cap counts from the first start, or for a window from the GPUs' release.
    const capLeft = Math.max(0, options.capMs - (windowed ? 0 : submitMs));
    const capped = sleep(capLeft).then(() => 'cap' as const);
    finished = (await Promise.race([enough.then(() => 'done' as const), capped])) === 'done';
    const endedAt = epochNow();
    const snapshot = await host.snapshot();
    if (process.env.BENCH_SCALE_OPS) {
      const ops = [...snapshot.metrics.capacity.ops].sort((a, b) => b.rru + b.wru - (a.rru + a.wru));
      for (const op of ops) log(`  ${JSON.stringify(op)}`);
      for (const a of snapshot.metrics.aws) log(`  ${JSON.stringify(a)}`);
    }
    if (windowed)
      log(`window: ${ended.size} jobs ended in ${((endedAt - measuredFrom) / 1000).toFixed(1)} s`);
    const cpuMs = (snapshot.cpu.user + snapshot.cpu.system - cpuFrom.user - cpuFrom.system) / 1000;
    const cpuShare = cpuMs / ((endedAt - startedAt) * availableParallelism());
    const run = {
      ...{ jobs, ids, ended: new Set(ended), finished, startedAt, endedAt, submitMs },
      ...{ snapshot, startPhase, releasedAt, cpuShare },
    };
    await client.close().catch(() => undefined);
    // A window leaves jobs queued: the stack is killed below, not drained.
    if (windowed) finished = false;
    return measure(options, run);
  } finally {
    // A cell past its cap leaves executions running: no drain, the process goes.
    if (finished) await host.stop();
    else await host.kill();
  }
}

async function startAll(client: Client, jobs: number): Promise<string[]> {
  const ids: string[] = new Array(jobs);
  let next = 0;
  const worker = async () => {
    while (next < jobs) {
      const i = next++;
      const answer = await call<StartAnswer>(client, 'sdreforge_batch_start', scaleJobArgs(`scale job ${i}`));
      ids[i] = answer.job_id;
    }
  };
  await Promise.all(Array.from({ length: Math.min(START_CONCURRENCY, jobs) }, worker));
  return ids;
}

interface Run {
  jobs: number;
  ids: string[];
  ended: Set<string>;
  /** Every job ended, or for a window, WINDOW_JOBS of them. */
  finished: boolean;
  startedAt: number;
  endedAt: number;
  submitMs: number;
  snapshot: Awaited<ReturnType<StackHost['snapshot']>>;
  /** A window's start phase (every job started and in line, the GPUs held), counted before the reset. */
  startPhase?: Awaited<ReturnType<StackHost['snapshot']>>;
  /** When the GPUs were let go, for a window. */
  releasedAt?: number;
  /** The stack process's CPU time (every thread: stores, simulators) over the cores' wall time. */
  cpuShare: number;
}

const dynamoUnits = (snapshot: Run['snapshot']) => {
  const dynamo = snapshot.metrics.aws.filter((a) => a.service === 'DynamoDB');
  return { rru: sum(dynamo.map((a) => a.rru)), wru: sum(dynamo.map((a) => a.wru)) };
};

function measure(options: ScaleCellOptions, run: Run): ScaleCell {
  const { snapshot, startPhase } = run;
  const windowed = startPhase !== undefined;
  const images = (windowed ? WINDOW_JOBS : run.jobs) * SCALE_JOB_IMAGES;
  const imagesMade = sum(snapshot.simulators.map((s) => s.imagesReturned));
  // Per image made: a capped cell is priced for what it did.
  const per = (x: number) => x / Math.max(1, imagesMade);
  // A window carries its share of the start phase: the jobs that ended, each a thousandth of it.
  const share = windowed ? run.ended.size / run.jobs : 0;
  const units = dynamoUnits(snapshot);
  const before = startPhase ? dynamoUnits(startPhase) : { rru: 0, wru: 0 };
  const rru = units.rru + share * before.rru;
  const wru = units.wru + share * before.wru;
  const busyIntervals = snapshot.simulators.flatMap((s) => s.busy);
  const gpuMs = sum(snapshot.simulators.map((s) => sum(s.busy.map((b) => b.end - b.start))));
  const firstSample = Math.min(...busyIntervals.map((b) => b.start));
  const jobIds = new Set(run.ids);
  const ends = run.ids.map((id) => snapshot.metrics.executions[id]?.endedAt ?? run.endedAt);
  const lastEnd = run.finished && !windowed ? Math.max(...ends) : run.endedAt;
  // From the GPU's first step: the start calls are timed elsewhere in the bench.
  const makespanMs = lastEnd - (Number.isFinite(firstSample) ? firstSample : run.startedAt);
  const gpuMsPerHost = gpuMs / options.hosts;
  const busyInMakespan = sum(
    snapshot.simulators.map((s) => unionLength(s.busy, lastEnd - makespanMs, lastEnd)),
  );
  const ours = (t: { jobId?: string }) => t.jobId === undefined || jobIds.has(t.jobId);
  const tasks = snapshot.metrics.tasks.filter(ours);
  const refusals = tasks.filter((t) => t.error === 'NoSlotAvailableError').length;
  // A task that waited out the held GPUs counts from their release: the hold is the bench's.
  const from = run.releasedAt ?? 0;
  const taskMs =
    sum(tasks.map((t) => Math.max(0, t.startedAt + t.ms - Math.max(t.startedAt, from)))) +
    share * sum((startPhase?.metrics.tasks ?? []).filter(ours).map((t) => t.ms));
  // Transitions per image of the jobs that ended (a window's queued jobs have hardly begun).
  const counted = windowed ? [...run.ended] : run.ids;
  const transitions = sum(
    counted.map((id) => {
      const e = snapshot.metrics.executions[id];
      return e ? e.entered + e.retried : 0;
    }),
  );
  const transitionImages = windowed ? counted.length * SCALE_JOB_IMAGES : imagesMade;
  const scaleTo5s = options.imageMs / TARGET_IMAGE_MS;
  const capacity = snapshot.metrics.capacity;
  const failed =
    capacity.failedConditionalWrites + share * (startPhase?.metrics.capacity.failedConditionalWrites ?? 0);
  return {
    ...options,
    jobs: run.jobs,
    images,
    windowed,
    finished: run.finished,
    jobsEnded: run.ended.size,
    imagesMade,
    rruPerImage: per(rru),
    wruPerImage: per(wru),
    dollarsPer1000: 1000 * per(rru * PRICES.dynamoPerReadUnit + wru * PRICES.dynamoPerWriteUnit),
    peakRead: capacity.peakRead,
    peakWrite: capacity.peakWrite,
    peakReadAt5s: (capacity.peakRead?.units ?? 0) * scaleTo5s,
    peakWriteAt5s: (capacity.peakWrite?.units ?? 0) * scaleTo5s,
    makespanMs,
    gpuMsPerHost,
    makespanRatio: makespanMs / gpuMsPerHost,
    busy: busyInMakespan / (options.hosts * makespanMs),
    refusalsPerImage: per(refusals),
    failedConditionsPerImage: per(failed),
    transitionsPerImage: transitions / Math.max(1, transitionImages),
    lambdaSecondsPerImage: per(Math.max(0, taskMs - gpuMs)) / 1000,
    submitMs: run.submitMs,
    cpuShare: run.cpuShare,
    topOps: [...capacity.ops].sort((a, b) => b.rru + b.wru - (a.rru + a.wru)).slice(0, 4),
    dynaliteChecks: capacity.dynaliteChecks,
    meterSeconds: capacity.meterMs / 1000,
  };
}

/** The issue's targets, for each row: the verdicts BENCHMARKS.md prints. */
export function scaleVerdicts(cell: ScaleCell, alone: ScaleCell | undefined): string[] {
  const out: string[] = [];
  if (!cell.finished) out.push(`NOT FINISHED within ${(cell.capMs / 1000).toFixed(0)} s`);
  if (alone && alone !== cell) {
    const flat = (name: string, x: number, base: number) => {
      if (base > 0 && x > base * 1.1) out.push(`${name} ${(x / base).toFixed(2)}x the one-job row`);
    };
    flat('read units', cell.rruPerImage, alone.rruPerImage);
    flat('write units', cell.wruPerImage, alone.wruPerImage);
    flat('transitions', cell.transitionsPerImage, alone.transitionsPerImage);
    flat('Lambda s', cell.lambdaSecondsPerImage, alone.lambdaSecondsPerImage);
  }
  if (cell.hosts === 64 && cell.queued === 1000) {
    if (cell.peakReadAt5s >= 1000) out.push('hottest key >= 1,000 RCU/s');
    if (cell.peakWriteAt5s >= 333) out.push('hottest key >= 333 WCU/s');
  }
  if (cell.hosts === 16 && cell.queued === 50) {
    if (cell.makespanRatio > 1.02) out.push('makespan > 1.02x');
    if (cell.busy < 0.98) out.push('busy < 98%');
    if (cell.failedConditionsPerImage > 0.1) out.push('failed conditional writes > 0.1/image');
  }
  if (out.length > 0) return out.map((v) => `FAIL: ${v}`);
  return [alone === cell ? 'pass (the baseline of its host count)' : 'pass'];
}

export const SCALE_HEADERS = [
  'hosts x queued',
  'image',
  'images',
  'RRU/image',
  'WRU/image',
  'DynamoDB $/1,000 images',
  'hottest read key (RCU/s, at 5 s images)',
  'hottest write key (WCU/s, at 5 s images)',
  'makespan / GPU time',
  'GPU busy',
  'refusals/image',
  'failed cond. writes/image',
  'transitions/image',
  'Lambda s/image',
  'stack CPU (of all cores)',
  'verdict',
];

const f = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

export function scaleRow(cell: ScaleCell, alone: ScaleCell | undefined): string[] {
  const key = (p: PartitionPeak | undefined, at5s: number) =>
    p ? `${f(p.units)} (${f(at5s)}) ${p.partition.replace(/job_\w+/g, 'job_…')}` : '-';
  return [
    `${cell.hosts} x ${cell.queued === 0 ? '0 (1 job)' : cell.queued}`,
    `${(cell.imageMs / 1000).toFixed(2)} s`,
    cell.windowed
      ? `${cell.imagesMade} (${cell.jobsEnded} of ${cell.jobs} jobs ended)`
      : cell.finished
        ? String(cell.imagesMade)
        : `${cell.imagesMade} of ${cell.images}`,
    f(cell.rruPerImage),
    f(cell.wruPerImage),
    `$${cell.dollarsPer1000.toFixed(4)}`,
    key(cell.peakRead, cell.peakReadAt5s),
    key(cell.peakWrite, cell.peakWriteAt5s),
    `${(cell.makespanMs / 1000).toFixed(1)} s / ${(cell.gpuMsPerHost / 1000).toFixed(1)} s = ${cell.makespanRatio.toFixed(3)}x`,
    `${(100 * cell.busy).toFixed(1)}%`,
    f(cell.refusalsPerImage),
    f(cell.failedConditionsPerImage),
    f(cell.transitionsPerImage),
    f(cell.lambdaSecondsPerImage),
    `${(100 * cell.cpuShare).toFixed(0)}%`,
    scaleVerdicts(cell, alone).join('; '),
  ];
}

/** One line per cell: where its units went, per image. */
export function unitsLine(cell: ScaleCell): string {
  const per = (x: number) => f(x / Math.max(1, cell.imagesMade));
  const ops = cell.topOps.map(
    (o) =>
      `${o.command.replace(/Command$/, '')} ${o.target} ${o.partition}: ${o.rru > 0 ? `${per(o.rru)} RRU` : `${per(o.wru)} WRU`}${o.failedConditions > 0 ? ` (${per(o.failedConditions)} failed conditions)` : ''}`,
  );
  return `- ${cell.hosts} x ${cell.queued}, per image: ${ops.join('; ')}`;
}
