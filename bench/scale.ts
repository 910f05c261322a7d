/**
 * The scale scenarios (issue 28): the real embedded stack (state machine, dynalite, the pool and
 * the queue) with H simulated GPU hosts and a queue of jobs, the GPU stood in by the simulator's
 * timers and its images by one flat PNG, so two cores time the coordination and not the pictures.
 * One cell: start the jobs together, wait for them all (or the cell's time cap), and price what
 * the stack did per image.
 */
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
/** Other cells: images short enough that the GPU's ideal makespan is about this long... */
const IDEAL_MAKESPAN_MS = 40_000;
/** ...but not shorter than this (below it the simulator's timers, not the GPU, set the pace). */
const MIN_IMAGE_MS = 10;
const MAX_CAP_MS = 240_000;

/** The image time and cap of a cell: 0.5 s where the GPU's time allows it, shorter for the big queues. */
export function cellPlan(hosts: number, queued: number): ScaleCellOptions {
  const images = Math.max(1, queued) * SCALE_JOB_IMAGES;
  const fitting = Math.floor((IDEAL_MAKESPAN_MS * hosts) / images);
  const imageMs = Math.max(MIN_IMAGE_MS, Math.min(BENCH_IMAGE_MS, fitting));
  const ideal = (images * imageMs) / hosts;
  const capMs = Math.min(MAX_CAP_MS, Math.max(60_000, 5 * ideal + 30_000));
  return { hosts, queued, imageMs, capMs };
}

export interface ScaleCell extends ScaleCellOptions {
  jobs: number;
  images: number;
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
    const startedAt = epochNow();
    const ids = await startAll(client, jobs);
    const submitMs = epochNow() - startedAt;
    log(`${jobs} jobs started in ${(submitMs / 1000).toFixed(1)} s`);
    const ended = new Set<string>();
    const all = Promise.all(ids.map((id) => host.executionEnd(id).then(() => ended.add(id))));
    const capped = sleep(Math.max(0, options.capMs - submitMs)).then(() => 'cap' as const);
    finished = (await Promise.race([all.then(() => 'done' as const), capped])) === 'done';
    const endedAt = epochNow();
    const snapshot = await host.snapshot();
    if (process.env.BENCH_SCALE_OPS) {
      const ops = [...snapshot.metrics.capacity.ops].sort((a, b) => b.rru + b.wru - (a.rru + a.wru));
      for (const op of ops) log(`  ${JSON.stringify(op)}`);
      for (const a of snapshot.metrics.aws) log(`  ${JSON.stringify(a)}`);
    }
    await client.close().catch(() => undefined);
    return measure(options, { jobs, ids, ended, finished, startedAt, endedAt, submitMs, snapshot });
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
  finished: boolean;
  startedAt: number;
  endedAt: number;
  submitMs: number;
  snapshot: Awaited<ReturnType<StackHost['snapshot']>>;
}

function measure(options: ScaleCellOptions, run: Run): ScaleCell {
  const { snapshot } = run;
  const images = run.jobs * SCALE_JOB_IMAGES;
  const imagesMade = sum(snapshot.simulators.map((s) => s.imagesReturned));
  // Per image made: a capped cell is priced for what it did.
  const per = (x: number) => x / Math.max(1, imagesMade);
  const dynamo = snapshot.metrics.aws.filter((a) => a.service === 'DynamoDB');
  const rru = sum(dynamo.map((a) => a.rru));
  const wru = sum(dynamo.map((a) => a.wru));
  const busyIntervals = snapshot.simulators.flatMap((s) => s.busy);
  const gpuMs = sum(snapshot.simulators.map((s) => sum(s.busy.map((b) => b.end - b.start))));
  const firstSample = Math.min(...busyIntervals.map((b) => b.start));
  const jobIds = new Set(run.ids);
  const ends = run.ids.map((id) => snapshot.metrics.executions[id]?.endedAt ?? run.endedAt);
  const lastEnd = run.finished ? Math.max(...ends) : run.endedAt;
  // From the GPU's first step: the start calls are timed elsewhere in the bench.
  const makespanMs = lastEnd - (Number.isFinite(firstSample) ? firstSample : run.startedAt);
  const gpuMsPerHost = gpuMs / options.hosts;
  const busyInMakespan = sum(
    snapshot.simulators.map((s) => unionLength(s.busy, lastEnd - makespanMs, lastEnd)),
  );
  const tasks = snapshot.metrics.tasks.filter((t) => t.jobId === undefined || jobIds.has(t.jobId));
  const refusals = tasks.filter((t) => t.error === 'NoSlotAvailableError').length;
  const taskMs = sum(tasks.map((t) => t.ms));
  const transitions = sum(
    run.ids.map((id) => {
      const e = snapshot.metrics.executions[id];
      return e ? e.entered + e.retried : 0;
    }),
  );
  const scaleTo5s = options.imageMs / TARGET_IMAGE_MS;
  const capacity = snapshot.metrics.capacity;
  return {
    ...options,
    jobs: run.jobs,
    images,
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
    failedConditionsPerImage: per(capacity.failedConditionalWrites),
    transitionsPerImage: per(transitions),
    lambdaSecondsPerImage: per(Math.max(0, taskMs - gpuMs)) / 1000,
    submitMs: run.submitMs,
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
  'verdict',
];

const f = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

export function scaleRow(cell: ScaleCell, alone: ScaleCell | undefined): string[] {
  const key = (p: PartitionPeak | undefined, at5s: number) =>
    p ? `${f(p.units)} (${f(at5s)}) ${p.partition.replace(/job_\w+/g, 'job_…')}` : '-';
  return [
    `${cell.hosts} x ${cell.queued === 0 ? '0 (1 job)' : cell.queued}`,
    `${(cell.imageMs / 1000).toFixed(2)} s`,
    cell.finished ? String(cell.imagesMade) : `${cell.imagesMade} of ${cell.images}`,
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
