/**
 * Jobs contending for one GPU host: three 100-iteration jobs started together, and a fourth
 * started right after them that waits behind them for the whole run. What each costs in AWS
 * terms: history events, state transitions, Lambda invocations and seconds, against its GPU time.
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { type CostInput, costModel } from './cost.ts';
import type { StackHost } from './host.ts';
import { call, jobArgs, type StartAnswer, type StatusAnswer } from './mcp.ts';
import type { TaskRecord } from './metrics.ts';
import { fetchResults } from './scenarios.ts';
import { epochNow, sleep, sum, unionLength } from './stats.ts';

export const CONTENTION_ITERATIONS = 100;
const LABELS = ['A', 'B', 'C'] as const;

export interface ContendingJob {
  label: string;
  jobId: string;
  images: number;
  historyEvents: number;
  /** StateEntered + StateRetried: what Step Functions bills. */
  transitions: number;
  /** Times it entered "Wait for a GPU slot". */
  waits: number;
  invocations: number;
  /** Wall time of its generate tasks: what waits for the GPU, and scales with it. */
  generateMs: number;
  /** Its share of the host's sampling time (every job asks for the same images). */
  gpuMs: number;
  /** Start call to the end of its "Finalize job". */
  makespanMs: number;
}

async function imagesDone(client: Client, jobId: string): Promise<number> {
  return (await call<StatusAnswer>(client, 'sdreforge_batch_status', { job_id: jobId })).completed_images;
}

async function untilImages(client: Client, jobId: string, images: number): Promise<void> {
  // Once a second: the status reads would otherwise count in the scenario's cost.
  while ((await imagesDone(client, jobId)) < images) await sleep(1000);
}

export async function contention(host: StackHost, client: Client) {
  await host.reset();
  const startedAt = epochNow();
  const three: Array<{ label: string; job_id: string }> = [];
  for (const label of LABELS) {
    const start = await call<StartAnswer>(
      client,
      'sdreforge_batch_start',
      jobArgs(1, CONTENTION_ITERATIONS, `contention ${label}`),
    );
    three.push({ label, job_id: start.job_id });
  }
  const queued = await call<StartAnswer>(
    client,
    'sdreforge_batch_start',
    jobArgs(1, CONTENTION_ITERATIONS, 'contention D, queued behind the others'),
  );
  const [first, , last] = three as [(typeof three)[0], (typeof three)[0], (typeof three)[0]];
  // The queued job's history once it waits, and again shortly before its turn (it is woken when
  // the third job hands back its last-but-one slot): what waiting added.
  await untilImages(client, first.job_id, 10);
  const waitFrom = { at: epochNow(), events: (await host.history(queued.job_id)).historyEvents };
  await untilImages(client, last.job_id, CONTENTION_ITERATIONS - 10);
  const waitTo = { at: epochNow(), events: (await host.history(queued.job_id)).historyEvents };
  const queuedImagesThen = await imagesDone(client, queued.job_id);

  const everyJob = [...three, { label: 'D', job_id: queued.job_id }];
  for (const job of everyJob) {
    const end = await host.executionEnd(job.job_id);
    if (end.outcome !== 'ExecutionSucceeded') throw new Error(`contention job ${job.label}: ${end.outcome}`);
  }
  const snapshot = await host.snapshot();
  const downloads = [];
  for (const job of everyJob) downloads.push(await fetchResults(client, job.job_id));
  const afterResults = await host.snapshot();

  const busy = snapshot.simulators.flatMap((x) => x.busy);
  const images = everyJob.length * CONTENTION_ITERATIONS;
  const gpuMs = unionLength(busy, startedAt, Number.POSITIVE_INFINITY);
  const tasksOf = (jobId: string) => snapshot.metrics.tasks.filter((t) => t.jobId === jobId);
  const finalizedAt = (jobId: string) => {
    const finalize = tasksOf(jobId).find((t) => t.state === 'Finalize job' && !t.error);
    return finalize ? finalize.startedAt + finalize.ms : Number.NaN;
  };
  const jobs: ContendingJob[] = [];
  for (const job of everyJob) {
    const execution = snapshot.metrics.executions[job.job_id];
    const tasks = tasksOf(job.job_id);
    jobs.push({
      label: job.label,
      jobId: job.job_id,
      images: CONTENTION_ITERATIONS,
      historyEvents: (await host.history(job.job_id)).historyEvents,
      transitions: (execution?.entered ?? 0) + (execution?.retried ?? 0),
      waits: execution?.enteredByState['Wait for a GPU slot'] ?? 0,
      invocations: tasks.length,
      generateMs: sum(tasks.filter((t) => t.state === 'Generate images').map((t) => t.ms)),
      gpuMs: (gpuMs * CONTENTION_ITERATIONS) / images,
      makespanMs: finalizedAt(job.job_id) - startedAt,
    });
  }

  // The three jobs together: from the first start call to the last of them finalized.
  const threeEnd = Math.max(...three.map((j) => finalizedAt(j.job_id)));
  const threeMakespanMs = threeEnd - startedAt;
  const threeGpuMs = (gpuMs * three.length) / everyJob.length;
  const lastSampling = Math.max(...busy.filter((b) => b.start < threeEnd).map((b) => b.end));
  const busyThree = unionLength(busy, startedAt, lastSampling) / (lastSampling - startedAt);

  const allTasks: TaskRecord[] = everyJob.flatMap((j) => tasksOf(j.job_id));
  const costInput: CostInput = {
    images,
    transitions: sum(jobs.map((j) => j.transitions)),
    tasks: allTasks,
    measuredGpuSecondsPerImage: gpuMs / images / 1000,
    gatewayCalls: downloads.flatMap((d) => d.callsMs.map((x) => ({ tool: 'sdreforge_batch_result', ms: x }))),
    aws: afterResults.metrics.aws,
    downloads: sum(downloads.map((d) => d.downloads)),
  };
  return {
    jobs,
    threeMakespanMs,
    threeGpuMs,
    busyThree,
    waiting: {
      /** Real milliseconds the queued job was watched waiting, and the events its history gained. */
      ms: waitTo.at - waitFrom.at,
      events: waitTo.events - waitFrom.events,
      stillWaiting: queuedImagesThen === 0,
    },
    cost: costModel(costInput),
  };
}
