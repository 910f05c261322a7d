/**
 * `npm run bench`: the embedded stack with simulated GPU hosts at a fixed time per step, measured
 * against the physical limit of those hosts. Prints the results table and writes BENCHMARKS.md.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { CALLS_PER_RUNNER } from '../core/plan.ts';
import { CONTENTION_ITERATIONS, contention } from './contention.ts';
import { costModel, GPU, gpuCostPerImage, PRICES } from './cost.ts';
import { generateMemoryRow, measureGenerateMemory } from './generate-memory.ts';
import { StackHost } from './host.ts';
import { call, connect, jobArgs, type StartAnswer, type StatusAnswer } from './mcp.ts';
import {
  machine,
  machineBusySeconds,
  markdownTable,
  ms,
  pct,
  type Row,
  s,
  textTable,
  usd,
  verdict,
} from './report.ts';
import { replaceScaleSection, scaleSection } from './scale-section.ts';
import {
  awsDelta,
  directBaseline,
  fairness,
  fetchResults,
  memoryAcrossJobs,
  runnerUse,
  STEPS,
  startLatency,
  statusLatency,
  statusLoad,
  timedJob,
} from './scenarios.ts';
import { epochNow, median, percentile, sleep, sum, unionLength } from './stats.ts';

const STEP_MS = 25;
const DEPTH = 2;
const ITERATIONS = 100;
const SINGLE_CALLS = 300;
// A p99 is the 10th slowest of 1,000: the calls span the 800-image job's 4 s iterations, the quiet
// seconds and the moments when four hosts' images arrive at once, not only whatever followed its first images.
const STATUS_CALLS = 1000;
const LOAD_CALLERS = 50;
const LOAD_SECONDS = 10;
const FAIRNESS_TRIALS = 3;
/**
 * The contention stack's step: 0.2 s per image, so four 100-image jobs take about 80 s. A switch
 * from one job to the next costs a fixed few tens of ms in real time; faster steps would make it
 * weigh more than it does on a GPU.
 */
const CONTENTION_STEP_MS = 10;
/** Step Functions' quota of history events per execution. */
const HISTORY_QUOTA = 25_000;
/**
 * The memory stack's jobs: the largest a job may be (8 x 100), at the smallest size and one step,
 * so each takes seconds. The contact sheet of 800 images is as large whatever their size.
 */
const MEMORY_JOBS = 3;
const MEMORY_JOB = { batchSize: 8, nIter: 100, side: 64, steps: 1 };
const MEMORY_STEP_MS = 1;
/** Quiet after each job's end before its memory is read, as someone watching between jobs would. */
const MEMORY_SETTLE_MS = 1000;
/**
 * RSS after the last job / after the first. Not 1.00: a reading carries the garbage the collectors
 * have not freed yet (V8 frees array buffers once tens of MB have built up), and glibc keeps the
 * high-water mark of each thread's native work resident (the contact sheet's palette quantiser
 * leaves some 25 MB in the arena of whichever libuv thread ran it). That warm-up is bounded and
 * settles within the first jobs: while the memory growth was fixed, 17 runs of this scenario gave 1.07 to
 * 1.16 (mean 1.11), and a run of 8 jobs stayed within 25 MiB from its third job on. Before the
 * fixes it gave 1.64, each job adding 200-290 MB.
 */
const MEMORY_RATIO_TARGET = 1.2;

const benchStarted = epochNow();
const machineBusyAtStart = machineBusySeconds();
const watchdog = setTimeout(() => {
  console.error('bench: still running after 9.5 minutes; giving up');
  process.exit(1);
}, 570_000);
watchdog.unref();
const log = (message: string) =>
  console.log(`[${((epochNow() - benchStarted) / 1000).toFixed(0).padStart(3)} s] ${message}`);

async function warmUp(host: StackHost, client: Awaited<ReturnType<typeof connect>>, nIter: number) {
  const job = await call<StartAnswer>(client, 'sdreforge_batch_start', jobArgs(1, nIter, 'warm-up'));
  await host.executionEnd(job.job_id);
}

async function waitForImages(client: Awaited<ReturnType<typeof connect>>, jobId: string, images: number) {
  for (;;) {
    const status = await call<StatusAnswer>(client, 'sdreforge_batch_status', { job_id: jobId });
    if (status.completed_images >= images) return status;
    await sleep(200);
  }
}

// ---- Stack A: one simulated host ------------------------------------------------------------
log(
  `stack A: 1 simulated host, depth ${DEPTH}, ${STEPS} steps x ${STEP_MS} ms = ${(STEPS * STEP_MS) / 1000} s per image`,
);
const a = await StackHost.start({ simHosts: 1, depth: DEPTH, stepMs: STEP_MS, countAws: true });
const clientA = await connect(a.ready);
await warmUp(a, clientA, 2);
log(`direct baseline: ${ITERATIONS} sequential txt2img calls to the simulator`);
await a.reset();
const baseline = await directBaseline(a.ready.simulators[0] as string, ITERATIONS);
const baselineBusy = sum((await a.snapshot()).simulators[0]?.busy.map((b) => b.end - b.start) ?? []);
log(`1-host job: ${ITERATIONS} iterations x 1 image through MCP`);
const one = await timedJob(a, clientA, 1, ITERATIONS);
const results = await fetchResults(clientA, one.jobId);
const costSnapshot = await a.snapshot();
const pollCalls = 20;
for (let i = 0; i < pollCalls; i++) await call(clientA, 'sdreforge_batch_status', { job_id: one.jobId });
const afterPolls = await a.snapshot();
const pollAws = awsDelta(costSnapshot.metrics, afterPolls.metrics);
log(`fairness: 4-image jobs behind an 800-image job (8 x 100), ${FAIRNESS_TRIALS} trials`);
const fair = await fairness(a, clientA, FAIRNESS_TRIALS);
const historyAlone = (await a.history(one.jobId)).historyEvents;
const peakA = await a.peakRssMiB();
const cpuA = await a.cpuSeconds();
await clientA.close();
await a.stop();

// ---- Stack B: four simulated hosts ----------------------------------------------------------
log(`stack B: 4 simulated hosts, depth ${DEPTH}`);
// No AWS request counting here: its middleware would add to every latency measured on this stack.
const b = await StackHost.start({ simHosts: 4, depth: DEPTH, stepMs: STEP_MS, countAws: false });
const clientB = await connect(b.ready);
await warmUp(b, clientB, 8);
log(`4-host job: ${ITERATIONS} iterations x 1 image`);
const four = await timedJob(b, clientB, 1, ITERATIONS);
const background = await call<StartAnswer>(
  clientB,
  'sdreforge_batch_start',
  jobArgs(8, 100, 'background job'),
);
await waitForImages(clientB, background.job_id, 8);
log(`latency: ${STATUS_CALLS} sequential status calls while an 800-image job runs`);
await b.loopDelay();
const status1 = await statusLatency(clientB, background.job_id, STATUS_CALLS);
const status1Loop = await b.loopDelay();
log(
  `load: ${LOAD_CALLERS} MCP callers looping status for ${LOAD_SECONDS} s (the load generator shares the machine)`,
);
const load = await statusLoad(b, background.job_id, LOAD_CALLERS, LOAD_SECONDS);
const loadLoop = await b.loopDelay();
const backgroundStatus = await call<StatusAnswer>(clientB, 'sdreforge_batch_status', {
  job_id: background.job_id,
});
log(`latency: ${SINGLE_CALLS} sequential start calls (each job cancelled after, untimed)`);
await b.reset();
const startPhaseFrom = epochNow();
const start1 = await startLatency(clientB, SINGLE_CALLS);
const startPhaseTo = epochNow();
const startLoop = await b.loopDelay();
const startPhaseSnapshot = await b.snapshot();
const startPhaseSims = startPhaseSnapshot.simulators;
const refusals = startPhaseSnapshot.metrics.tasks.filter(
  (t) => t.jobId === background.job_id && t.error === 'NoSlotAvailableError',
);
// A refusal that names a job already cancelled is a waiter left behind by that job.
const refusedForCancelled = refusals.filter((t) => {
  const named = /job_\w+/.exec(t.reason ?? '')?.[0];
  const cancelled = named ? start1.cancelledAt.get(named) : undefined;
  return cancelled !== undefined && cancelled < t.startedAt;
}).length;
const refusalReasons = new Map<string, number>();
for (const t of refusals) {
  const reason = (t.reason ?? '').replace(/job_\w+/g, 'job_…');
  refusalReasons.set(reason, (refusalReasons.get(reason) ?? 0) + 1);
}
await call(clientB, 'sdreforge_batch_cancel', { job_id: background.job_id });
const peakB = await b.peakRssMiB();
const cpuB = await b.cpuSeconds();
await clientB.close();
await b.stop();

// ---- Stack C: contention on one host ---------------------------------------------------------
log(
  `stack C: contention, 1 simulated host at ${(STEPS * CONTENTION_STEP_MS) / 1000} s per image: 3 jobs of ${CONTENTION_ITERATIONS} images and a 4th queued behind them`,
);
const c = await StackHost.start({ simHosts: 1, depth: DEPTH, stepMs: CONTENTION_STEP_MS, countAws: true });
const clientC = await connect(c.ready);
await warmUp(c, clientC, 2);
const contended = await contention(c, clientC);
const cpuC = await c.cpuSeconds();
await clientC.close();
await c.stop();

// ---- Stack D: memory across jobs -------------------------------------------------------------
log(
  `stack D: memory, ${MEMORY_JOBS} jobs of ${MEMORY_JOB.batchSize} x ${MEMORY_JOB.nIter} images (${MEMORY_JOB.side}x${MEMORY_JOB.side}, ${MEMORY_JOB.steps} step) one after another`,
);
const d = await StackHost.start({ simHosts: 1, depth: DEPTH, stepMs: MEMORY_STEP_MS, countAws: false });
const clientD = await connect(d.ready);
const memory = await memoryAcrossJobs(d, clientD, {
  jobs: MEMORY_JOBS,
  ...MEMORY_JOB,
  settleMs: MEMORY_SETTLE_MS,
});
const cpuD = await d.cpuSeconds();
await clientD.close();
await d.stop();

log('generate task memory: the largest answer one call may bring, stored on the way, held, and read whole');
const decode = await measureGenerateMemory();

// ---- Figures --------------------------------------------------------------------------------
const makespanRatio = one.makespanMs / baseline.ms;
const speedUp = one.makespanMs / four.makespanMs;
const allHosts = [...one.hosts, ...four.hosts];
const minWindowBusy = Math.min(...allHosts.map((h) => h.busyInWindow));
const minMakespanBusy = Math.min(...allHosts.map((h) => h.busyInMakespan));
const busyRange = (hosts: typeof allHosts, key: 'busyInWindow' | 'busyInMakespan') => {
  const v = hosts.map((h) => h[key]);
  return v.length === 1 ? pct(v[0] as number) : `${pct(Math.min(...v))}-${pct(Math.max(...v))}`;
};
const phases = runnerUse(one.snapshot.metrics.tasks, one.snapshot.simulators[0]?.busy ?? [], one.jobId);
const phasesFour = runnerUse(
  four.snapshot.metrics.tasks,
  four.snapshot.simulators.flatMap((x) => x.busy),
  four.jobId,
);
const gpuSecondsPerImage = sum(one.hosts.map((h) => h.busyMs)) / one.images / 1000;

const cost = costModel({
  images: one.images,
  transitions: one.execution.entered + one.execution.retried,
  tasks: costSnapshot.metrics.tasks.filter((t) => t.jobId === one.jobId),
  measuredGpuSecondsPerImage: gpuSecondsPerImage,
  gatewayCalls: [
    { tool: 'sdreforge_batch_start', ms: one.startCallMs },
    ...results.callsMs.map((x) => ({ tool: 'sdreforge_batch_result', ms: x })),
  ],
  aws: costSnapshot.metrics.aws,
  downloads: results.downloads,
});
const pollRru = sum(pollAws.map((x) => x.rru)) / pollCalls;
const pollWru = sum(pollAws.map((x) => x.wru)) / pollCalls;
const pollCost =
  PRICES.lambdaPerRequest +
  ((status1.p50 / 1000) * cost.memory.gateway * PRICES.lambdaPerGbSecondArm) / 1024 +
  pollRru * PRICES.dynamoPerReadUnit +
  pollWru * PRICES.dynamoPerWriteUnit;
const byCommand = new Map<string, number[]>();
for (const r of costSnapshot.metrics.awsTimeline) {
  byCommand.set(r.command, [...(byCommand.get(r.command) ?? []), r.ms]);
}
const requestTimes = [...byCommand]
  .map(([c, v]) => `${c.replace('Command', '')} x${v.length} ${ms(median(v))} / ${ms(percentile(v, 99))}`)
  .join(', ');
const startPhaseBusy =
  sum(startPhaseSims.map((x) => unionLength(x.busy, startPhaseFrom, startPhaseTo))) /
  (startPhaseSims.length * (startPhaseTo - startPhaseFrom));

const queuedJob = contended.jobs.find((j) => j.label === 'D') as (typeof contended.jobs)[0];
// Real milliseconds of waiting, at the GPU time the cost model prices (5 s per image).
const waitedHours = (contended.waiting.ms * contended.cost.scale) / 3_600_000;
const threeRatio = contended.threeMakespanMs / contended.threeGpuMs;
const largestHistory = Math.max(historyAlone, ...contended.jobs.map((j) => j.historyEvents));
const mib = (bytes: number) => bytes / 2 ** 20;
const rssAfter = memory.after.map((a) => mib(a.memory.rss));
const memoryRatio = (rssAfter.at(-1) as number) / (rssAfter[0] as number);

const rows: Row[] = [
  {
    metric: `1 host: makespan of ${ITERATIONS} x 1 image / ${ITERATIONS} direct sequential txt2img calls`,
    value: `${makespanRatio.toFixed(3)} (${s(one.makespanMs)} / ${s(baseline.ms)}; to the last image ${(one.lastImageMs / baseline.ms).toFixed(3)})`,
    target: '<= 1.02',
    pass: makespanRatio <= 1.02,
  },
  {
    metric: '4 hosts: speed-up over 1 host',
    value: `${speedUp.toFixed(2)}x (${s(one.makespanMs)} / ${s(four.makespanMs)})`,
    target: '>= 3.8x',
    pass: speedUp >= 3.8,
  },
  {
    metric: 'GPU busy per host, first sampling start to last end (lowest)',
    value: `${pct(minWindowBusy)} (1 host ${busyRange(one.hosts, 'busyInWindow')}; 4 hosts ${busyRange(four.hosts, 'busyInWindow')})`,
    target: '>= 98%',
    pass: minWindowBusy >= 0.98,
  },
  {
    metric: 'GPU busy per host, over the whole makespan (lowest)',
    value: `${pct(minMakespanBusy)} (1 host ${busyRange(one.hosts, 'busyInMakespan')}; 4 hosts ${busyRange(four.hosts, 'busyInMakespan')})`,
    target: '>= 98%',
    pass: minMakespanBusy >= 0.98,
  },
  {
    metric: `start latency, 1 caller, ${start1.calls} sequential calls: p50 / p99`,
    value: `${ms(start1.p50)} / ${ms(start1.p99)}`,
    target: 'p99 < 50 ms',
    pass: start1.p99 < 50 && start1.errors === 0,
  },
  {
    metric: `status latency, 1 caller, ${status1.calls} sequential calls: p50 / p99`,
    value: `${ms(status1.p50)} / ${ms(status1.p99)}`,
    target: 'p99 < 10 ms',
    pass: status1.p99 < 10 && status1.errors === 0,
  },
  {
    metric: `status throughput, ${LOAD_CALLERS} concurrent MCP callers, ${LOAD_SECONDS} s (load generator on the same machine)`,
    value: `${load.perSecond.toFixed(0)} calls/s, ${load.errors} errors (${load.calls} calls)`,
    target: '>= 1,000/s, 0 errors',
    pass: load.perSecond >= 1000 && load.errors === 0,
  },
  {
    metric: `status latency, ${LOAD_CALLERS} concurrent callers: p50 / p99`,
    value: `${ms(load.p50)} / ${ms(load.p99)}`,
    target: '(reported)',
  },
  {
    metric: `small job's wait behind an 800-image job, in its iterations (worst of ${FAIRNESS_TRIALS})`,
    value: `${fair.worstIterations.toFixed(3)} (${fair.trials.map((t) => (t.waitMs / fair.bigIterationMs).toFixed(3)).join(', ')}; ${s(fair.bigIterationMs)} per iteration)`,
    target: '<= 2',
    pass: fair.worstIterations <= 2,
  },
  generateMemoryRow(decode),
  {
    metric: 'peak memory (VmHWM) of the embedded stack process',
    value: `${peakA.toFixed(0)} MiB (1 host), ${peakB.toFixed(0)} MiB (4 hosts)`,
    target: '(reported)',
  },
  {
    metric: `memory: RSS of the stack after each of ${MEMORY_JOBS} consecutive ${MEMORY_JOB.batchSize * MEMORY_JOB.nIter}-image jobs, after the last / after the first`,
    value: `${memoryRatio.toFixed(3)} (${rssAfter.map((x) => x.toFixed(0)).join(' / ')} MiB; peak ${memory.peakMiB.toFixed(0)} MiB)`,
    target: `<= ${MEMORY_RATIO_TARGET.toFixed(2)}`,
    pass: memoryRatio <= MEMORY_RATIO_TARGET,
  },
  {
    metric: `AWS orchestration cost / GPU cost per image ($${GPU.dollarsPerHour}/h, ${GPU.secondsPerImage} s/image)`,
    value: `${pct(cost.share)} (${usd(cost.totalPer1000)} vs ${usd(cost.gpuPer1000)} per 1,000 images)`,
    target: '<= 2%',
    pass: cost.share <= 0.02,
  },
  {
    metric: `contention (3 jobs of ${CONTENTION_ITERATIONS} on 1 host, a 4th queued behind them): orchestration cost / GPU cost per image`,
    value: `${pct(contended.cost.share)} (${usd(contended.cost.totalPer1000)} per 1,000 images; alone ${pct(cost.share)})`,
    target: '<= 2%',
    pass: contended.cost.share <= 0.02,
  },
  {
    metric: `contention: history events of the ${CONTENTION_ITERATIONS}-iteration job queued behind the others for its whole life / ${HISTORY_QUOTA.toLocaleString('en-US')}`,
    value: `${pct(queuedJob.historyEvents / HISTORY_QUOTA)} (${queuedJob.historyEvents} events; while it waited ${waitedHours.toFixed(2)} h at ${GPU.secondsPerImage} s/image: ${contended.waiting.events} events, ${(contended.waiting.events / waitedHours).toFixed(1)} per hour)`,
    target: '<= 10%',
    pass: queuedJob.historyEvents / HISTORY_QUOTA <= 0.1 && contended.waiting.stillWaiting,
  },
  {
    metric: 'contention: GPU busy while the 3 jobs ran, first start call to their last sampling',
    value: pct(contended.busyThree),
    target: '>= 98%',
    pass: contended.busyThree >= 0.98,
  },
  {
    metric: 'contention: makespan of the 3 jobs / GPU time of their images',
    value: `${threeRatio.toFixed(3)} (${s(contended.threeMakespanMs)} / ${s(contended.threeGpuMs)})`,
    target: '<= 1.02',
    pass: threeRatio <= 1.02,
  },
];

const runSeconds = (epochNow() - benchStarted) / 1000;
// Other processes on the machine during the run: all busy CPU minus the benchmark's own processes.
const ownCpu = (process.cpuUsage().user + process.cpuUsage().system) / 1e6 + cpuA + cpuB + cpuC + cpuD;
const othersCores = (machineBusySeconds() - machineBusyAtStart - ownCpu) / runSeconds;
// The two counts tick apart by a few hundredths of a core: nothing else running can read as below zero.
const othersText = othersCores < 0.01 ? 'under 0.01 cores' : `${othersCores.toFixed(2)} cores`;
const headers = ['metric', 'value', 'target', 'pass/fail'];
const cells = rows.map((r) => [r.metric, r.value, r.target, verdict(r)]);
console.log(`\n${textTable(headers, cells)}\n`);
console.log(
  `The load generator (${LOAD_CALLERS} MCP clients, one process) shares this ${machine().cores}-core machine with the stack: ` +
    `it used ${load.loadGeneratorCores.toFixed(2)} cores, the stack ${load.stackCores.toFixed(2)}.`,
);
console.log(
  `Run time ${runSeconds.toFixed(0)} s; other processes on the machine used ${othersText} on average meanwhile. Details in BENCHMARKS.md.`,
);

// ---- BENCHMARKS.md --------------------------------------------------------------------------
const taskTimes = (t: Record<string, number>) =>
  Object.entries(t)
    .map(([state, x]) => `${state} ${ms(x)}`)
    .join(', ') || 'none';
const loopText = (d: { p50: number; p99: number; max: number }) =>
  `p50 ${ms(d.p50)}, p99 ${ms(d.p99)}, max ${ms(d.max)}`;
const m = machine();
const firstHost = one.hosts[0];
const q = (v: number[]) => `${ms(median(v))} median, ${ms(percentile(v, 99))} p99, ${ms(Math.max(...v))} max`;
const md = `# sdbatch benchmarks

Written by \`npm run bench\` (bench/run.ts) on ${new Date().toISOString()}; the run took ${runSeconds.toFixed(0)} s.

Machine: ${m.cores} cores (${m.cpu}), ${m.memoryGiB.toFixed(1)} GiB memory, Node ${m.node}. Processes other than
the benchmark's used ${othersText} on average during the run (from /proc/stat).
The embedded stack runs in its own process (bench/stack-host.ts: \`startEmbeddedStack\` as \`npm start\` runs it,
plus the benchmark's counters; its DynamoDB and S3 emulators on a thread of their own); the MCP clients and the load generator run in the benchmark's process on the
same machine. Simulated GPU hosts (the built-in SD WebUI simulator, in the stack's process): ${STEPS} steps x
${STEP_MS} ms = ${(STEPS * STEP_MS) / 1000} s per 512x512 image, depth ${DEPTH} per host, batch_size 1 unless
stated. Every figure below comes from this one run.

Command: \`npm run bench\`

${markdownTable(headers, cells)}

## Details

### One host: where the makespan goes

The makespan of a job runs from its start call being sent to its completion: the end of its "Finalize job"
task, after which status answers completed. Work the execution does after that (the contact sheet) is shown
apart, as "execution end".

The ${ITERATIONS}-image job's makespan is ${s(one.makespanMs)} (execution end ${s(one.executionMs)}):
lead-in to the first sampling ${ms(firstHost?.leadInMs ?? Number.NaN)} (the start call itself ${ms(one.startCallMs)}),
GPU busy ${s(firstHost?.busyMs ?? Number.NaN)}, GPU idle between samplings ${s(sum(firstHost?.gapsMs ?? []))}
(${q(firstHost?.gapsMs ?? [])} per gap), from the last sampling's end to completion ${ms(firstHost?.tailMs ?? Number.NaN)}
(the job's other tasks: ${taskTimes(one.otherTasksMs)}). The last image was stored and counted
${s(one.lastImageMs)} after the start call: ${(one.lastImageMs / baseline.ms).toFixed(3)} of the baseline.
The direct baseline took ${s(baseline.ms)} for the same ${ITERATIONS} images, ${s(baselineBusy)} of it sampling:
${ms((baseline.ms - baselineBusy) / ITERATIONS)} per call outside sampling (HTTP, PNG encoding, JSON).

Generate tasks (each a runner doing a share of the iterations with ${CALLS_PER_RUNNER} SD WebUI calls in flight):
${phases.invocations} invocations (${phases.finished} finished their share, ${phases.refused} were refused a slot and
waited for one in "Wait for a GPU slot", ${phases.paused} paused for time and were started again at once); their wall time ${s(phases.wallMs)}
against ${s(phases.gpuMs)} of sampling: ${phases.waitFactor.toFixed(2)} Lambda seconds per GPU second.
Gaps over 20 ms between samplings: ${(firstHost?.gapsMs ?? []).filter((g) => g > 20).length}, together
${s(sum((firstHost?.gapsMs ?? []).filter((g) => g > 20)))}.
AWS requests during the job (round trip to dynalite and s3rver, median / p99): ${requestTimes}.

### Four hosts

| host | images | busy, first to last sampling | busy, whole makespan | lead-in | last sampling to completion |
| --- | --- | --- | --- | --- | --- |
${four.hosts.map((h, i) => `| ${i} | ${h.images} | ${pct(h.busyInWindow)} | ${pct(h.busyInMakespan)} | ${ms(h.leadInMs)} | ${ms(h.tailMs)} |`).join('\n')}

Makespan ${s(four.makespanMs)} (execution end ${s(four.executionMs)}); ${phasesFour.invocations} generate task invocations,
${phasesFour.refused} of them refused a slot, waited and started again (${phases.refused} with one host), ${phasesFour.waitFactor.toFixed(2)} Lambda seconds per GPU second; the start call took ${ms(four.startCallMs)}; the last image was stored
${s(four.lastImageMs)} after it (speed-up to the last image ${(one.lastImageMs / four.lastImageMs).toFixed(2)}x); the
job's other tasks: ${taskTimes(four.otherTasksMs)}.

### Latency and load

- start, 1 caller: ${start1.calls} calls, ${start1.errors} errors, p50 ${ms(start1.p50)}, p99 ${ms(start1.p99)},
  max ${ms(start1.max)}; median of the first tenth ${ms(start1.firstTenthP50)}, of the last tenth
  ${ms(start1.lastTenthP50)} (the caller's history grows by one job per call; the active-jobs check reads only
  the sparse index of jobs not yet ended, so it should not slow down).
- status, 1 caller, on the running 800-image job: ${status1.calls} calls over ${s(status1.seconds * 1000)}, ${status1.errors} errors, p50 ${ms(status1.p50)},
  p99 ${ms(status1.p99)}, max ${ms(status1.max)}; the stack's event-loop delay meanwhile ${loopText(status1Loop)}.
- status, ${LOAD_CALLERS} callers for ${LOAD_SECONDS} s: ${load.calls} calls, ${load.errors} errors,
  ${load.perSecond.toFixed(0)} calls/s, p50 ${ms(load.p50)}, p99 ${ms(load.p99)}, max ${ms(load.max)}. The load
  generator shares the machine: it used ${load.loadGeneratorCores.toFixed(2)} cores and the stack
  ${load.stackCores.toFixed(2)} cores of ${m.cores}: ${ms(load.stackCpuMsPerCall)} of stack CPU per status call
  (concurrent polls of one job share one table read in the gateway). The 800-image job was still ${backgroundStatus.status} afterwards
  (${backgroundStatus.completed_images}/${backgroundStatus.total_images} images). Event-loop delay ${loopText(loadLoop)}.
- While the start calls ran (each started job cancelled at once), the 4 GPU hosts were busy ${pct(startPhaseBusy)}
  of the time with the 800-image job, whose generate tasks were refused a slot ${refusals.length} times:
  ${[...refusalReasons].map(([reason, n]) => `${n} x "${reason}"`).join('; ') || 'none'}; ${refusedForCancelled} of
  these named a job that had already been cancelled. Event-loop delay
  ${loopText(startLoop)}.

### Fairness

An 800-image job (batch_size 8 x n_iter 100, ${s(fair.bigIterationMs)} per iteration on the GPU) holds the one
host; ${FAIRNESS_TRIALS} 4-image jobs (1 x 4) start one after another once it is under way.

| trial | start to first sampling | in big-job iterations | start to first image counted |
| --- | --- | --- | --- |
${fair.trials.map((t, i) => `| ${i + 1} | ${s(t.waitMs)} | ${(t.waitMs / fair.bigIterationMs).toFixed(3)} | ${s(t.firstImageMs)} |`).join('\n')}

The small jobs' generate tasks were refused a slot ${fair.smallNoSlotRetries} times (each then a wait in "Wait for a
GPU slot", woken when the big job handed a slot over; the big job's own refusals are its waits while they ran).

### Contention: four jobs, one host

Three jobs of ${CONTENTION_ITERATIONS} images (batch_size 1, 512x512, ${STEPS} steps) start together on one simulated
host at ${(STEPS * CONTENTION_STEP_MS) / 1000} s per image; a fourth, as big, starts right after them. The pool orders
jobs by their place in line (creation time plus the GPU time their unfinished images need), so
they take the host one after the other, and the fourth waits behind the three for their whole run:
${contended.waiting.stillWaiting ? 'it had made no image' : 'it had made images (it did not wait the whole run)'} when the third was
ten images from its end. Its history was read when it had waited a while and again shortly before its turn:
${contended.waiting.events} events were added over ${s(contended.waiting.ms)} of waiting here,
${waitedHours.toFixed(2)} h at ${GPU.secondsPerImage} s/image. A waiting runner is a callback task: no Lambda runs, no
transition is billed, and heartbeats add no history events.

| job | history events (of ${HISTORY_QUOTA.toLocaleString('en-US')}) | transitions per image | waits | Lambda invocations | generate task s per GPU s | start call to completion |
| --- | --- | --- | --- | --- | --- | --- |
${contended.jobs
  .map(
    (j) =>
      `| ${j.label}${j.label === 'D' ? ' (queued)' : ''} | ${j.historyEvents} (${pct(j.historyEvents / HISTORY_QUOTA)}) | ${(j.transitions / j.images).toFixed(3)} | ${j.waits} | ${j.invocations} | ${(j.generateMs / j.gpuMs).toFixed(2)} | ${s(j.makespanMs)} |`,
  )
  .join('\n')}
| alone (the 1-host job above) | ${historyAlone} (${pct(historyAlone / HISTORY_QUOTA)}) | ${((one.execution.entered + one.execution.retried) / one.images).toFixed(3)} | 0 | ${phases.invocations + Object.keys(one.otherTasksMs).length} | ${phases.waitFactor.toFixed(2)} | ${s(one.makespanMs)} |

The largest execution's history in this run: ${largestHistory} events, ${pct(largestHistory / HISTORY_QUOTA)} of the quota.
GPU time per job is the host's sampling time split by images (the jobs ask for the same images). The three jobs'
makespan ${s(contended.threeMakespanMs)} against ${s(contended.threeGpuMs)} of GPU time for their images
(${threeRatio.toFixed(3)}); the host was busy ${pct(contended.busyThree)} from the first start call to their last sampling.

Orchestration cost of the four jobs, priced as below (transitions, every task's Lambda time with the
generate tasks scaled to ${GPU.secondsPerImage} s/image, every AWS request, one download per image, and the status polls this
scenario made to follow the jobs):

${markdownTable(
  ['item', 'usage per image', 'per 1,000 images'],
  [
    ...contended.cost.lines.map((l) => [l.item, l.usagePerImage, usd(l.dollarsPer1000)]),
    ['**orchestration total**', '', `**${usd(contended.cost.totalPer1000)}**`],
    ['orchestration / GPU', '', `**${pct(contended.cost.share)}** (alone: ${pct(cost.share)})`],
  ],
)}

### Memory across jobs

A stack of its own (one simulated host at ${MEMORY_STEP_MS} ms per step) runs ${MEMORY_JOBS} jobs of ${MEMORY_JOB.batchSize} x ${MEMORY_JOB.nIter}
images (${MEMORY_JOB.side}x${MEMORY_JOB.side}, ${MEMORY_JOB.steps} step: a few seconds of generation, then the 800-image contact sheet)
one after another, nothing else running on that stack. Its memory is read when it has started and
${s(MEMORY_SETTLE_MS)} after each job's execution has ended (its contact sheet drawn); nothing forces a collection.
RSS counts the whole process; the heap columns are the main thread's V8 heap and that of the thread the
DynamoDB and S3 emulators run on (used / committed), array buffers the main thread's.

| moment | job time | RSS | main heap | external | array buffers | stores heap |
| --- | --- | --- | --- | --- | --- | --- |
${[
  { label: 'stack started', ms: Number.NaN, memory: memory.before },
  ...memory.after.map((a, i) => ({ label: `after job ${i + 1}`, ...a })),
]
  .map(
    (r) =>
      `| ${r.label} | ${Number.isNaN(r.ms) ? '-' : s(r.ms)} | ${mib(r.memory.rss).toFixed(0)} MiB | ${mib(r.memory.heapUsed).toFixed(0)} / ${mib(r.memory.heapTotal).toFixed(0)} MiB | ${mib(r.memory.external).toFixed(0)} MiB | ${mib(r.memory.arrayBuffers).toFixed(0)} MiB | ${r.memory.storesHeapUsed === undefined ? '-' : `${mib(r.memory.storesHeapUsed).toFixed(0)} / ${mib(r.memory.storesHeapTotal ?? Number.NaN).toFixed(0)} MiB`} |`,
  )
  .join('\n')}

Peak RSS (VmHWM) over the ${MEMORY_JOBS} jobs: ${memory.peakMiB.toFixed(0)} MiB. After the last job / after the first:
${memoryRatio.toFixed(3)} (target ${MEMORY_RATIO_TARGET.toFixed(2)}), ${(((rssAfter.at(-1) as number) - (rssAfter[0] as number)) / (MEMORY_JOBS - 1)).toFixed(0)} MiB a job from the first job's end to the last's.
The margin is for what a reading cannot avoid and what settles within the first jobs: garbage the collectors
have not freed yet (the array buffers column: V8 frees them once tens of MB have built up) and the native
high-water mark glibc keeps resident per thread (the contact sheet's palette quantiser runs on whichever libuv
thread is free). What grew with every job before the memory fixes (a libvips composite of 1,600 overlays per
contact sheet, the LevelDB iterators dynalite never closed, the emulators' young generation) is gone.

### Generate task memory

The generate task is billed for its memory while it waits for the GPU, so it is kept small. The largest
answer one SD WebUI call may bring (LIMITS.pixelsPerCall: 8 images at 2048x2048, here 8 x 7 MiB of
incompressible PNG bytes, ${decode.bodyMiB.toFixed(0)} MiB of JSON) was read by a fresh worker process with the worker's modules
loaded, bundled by esbuild and started with the flags the CDK app gives the function (\`${decode.flags.join(' ')}\`;
${decode.store.loaded.toFixed(0)} MiB before the call). Each image handed on to S3 (the real client's PutObject, to a local
server) as soon as it is decoded, as the task does, its peak RSS was ${decode.store.peak.toFixed(0)} MiB, the worst of
${decode.store.peaks.length} fresh processes (${decode.store.peaks.map((p) => p.toFixed(0)).join(', ')} MiB): ${((100 * decode.store.peak) / decode.memoryMb).toFixed(0)}% of the function's
${decode.memoryMb} MB, which must be at least 1.5x the peak. Decoded one at a time but all held until the call's end, as the
task did before, ${decode.hold.peak.toFixed(0)} MiB (${decode.hold.peaks.map((p) => p.toFixed(0)).join(', ')}); read whole (text, JSON.parse, then every image
decoded), ${decode.whole.peak.toFixed(0)} MiB (${decode.whole.peaks.map((p) => p.toFixed(0)).join(', ')}).

### Cost model (AWS, per 1,000 images)

Counted from the 1-host job above (${one.images} images of batch_size 1): its execution's state transitions
(StateEntered + StateRetried events of aws-local-stepfunctions, which Step Functions bills alike), each Task
handler's wall time, every AWS SDK request the workers and the gateway sent (DynamoDB read and write units as
on-demand bills them, from item sizes: reads from dynalite's ConsumedCapacity, which sizes every item a Query
evaluated; writes the larger of the item before and after in 1 KB units, plus each index entry put, changed or
removed, a failed conditional write billed for the item as it stands; see bench/capacity.ts), the start and result calls,
and one download per image. Lambda memory as CDK deploys it (workflow/function-sizing.ts, the gateway's construct): ${Object.entries(
  cost.memory.tasks,
)
  .map(([k, v]) => `${k} ${v} MB`)
  .join(', ')}, gateway ${cost.memory.gateway} MB (gateway time is the client's round trip, an upper bound).

Scaled to a GPU at ${GPU.secondsPerImage} s/image: the generate tasks wait for the GPU, so the part of their time the
GPU sampled for the job scales with GPU time (x${cost.scale.toFixed(2)}, from the measured ${gpuSecondsPerImage.toFixed(3)} s per image) and
the rest of it (reading the job, leasing, the last uploads) does not; live progress is written once per
5 s of sampling, so at ${GPU.secondsPerImage} s/image once per image (the fast simulated steps here write it less
often); transitions, other requests and the other functions do not scale.

Prices: ${PRICES.source}. Step Functions Standard $0.025 per 1,000 transitions; Lambda arm64 $0.0000133334 per
GB-s and $0.20 per 1M requests; DynamoDB on-demand $${(PRICES.dynamoPerReadUnit * 1e6).toFixed(3)} per 1M read units, $${(PRICES.dynamoPerWriteUnit * 1e6).toFixed(3)} per 1M write units; S3 $0.005
per 1,000 PUT and $0.0004 per 1,000 GET requests. GPU: $${GPU.dollarsPerHour}/h at ${GPU.secondsPerImage} s/image =
${usd(gpuCostPerImage)} per image.

${markdownTable(
  ['item', 'usage per image', 'per 1,000 images'],
  [
    ...cost.lines.map((l) => [l.item, l.usagePerImage, usd(l.dollarsPer1000)]),
    ['**orchestration total**', '', `**${usd(cost.totalPer1000)}**`],
    ['GPU', `${GPU.secondsPerImage} s at $${GPU.dollarsPerHour}/h`, usd(cost.gpuPer1000)],
    ['orchestration / GPU', '', `**${pct(cost.share)}**`],
  ],
)}

Lambda by task: ${Object.entries(cost.byState)
  .map(
    ([state, x]) =>
      `${state} ${x.invocations} invocations, ${x.seconds.toFixed(1)} s measured, ${x.gbSecondsAt5s.toFixed(1)} GB-s at ${GPU.secondsPerImage} s/image`,
  )
  .join('; ')}.
Generate task wall time / GPU time of the job's samplings: ${phases.waitFactor.toFixed(2)}.

Not in the total: status polls, which the client decides. One poll measured ${ms(status1.p50)} (p50) at the gateway
and ${pollRru.toFixed(2)} read units: ${usd(pollCost * 1000)} per 1,000 polls.
`;
// The Scale section is `npm run bench:scale`'s: kept as it stands.
const benchmarksFile = new URL('../BENCHMARKS.md', import.meta.url);
const keptScale = scaleSection(await readFile(benchmarksFile, 'utf8').catch(() => ''));
await writeFile(benchmarksFile, keptScale ? replaceScaleSection(md, keptScale) : md);
process.exit(0);
