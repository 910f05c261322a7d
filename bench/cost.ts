/**
 * AWS cost per 1,000 images from what one job's run counted, priced from the public us-east-1
 * price list, next to the GPU's own cost.
 */
import { readFileSync } from 'node:fs';
import { PROGRESS_WRITE_MS } from '../core/workflow/progress-reporter.ts';
import { FUNCTION_SIZING } from '../workflow/function-sizing.ts';
import type { AwsRequestCount, TaskRecord } from './metrics.ts';

export const PRICES = {
  source:
    'AWS public price list, us-east-1, 2025 (DynamoDB on-demand as cut on 1 November 2024); verify before relying on it',
  stepFunctionsPerTransition: 0.025 / 1000,
  lambdaPerGbSecondArm: 0.0000133334,
  lambdaPerRequest: 0.2 / 1_000_000,
  dynamoPerReadUnit: 0.125 / 1_000_000,
  dynamoPerWriteUnit: 0.625 / 1_000_000,
  s3PerPut: 0.005 / 1000,
  s3PerGet: 0.0004 / 1000,
} as const;

export const GPU = { dollarsPerHour: 1, secondsPerImage: 5 } as const;
export const gpuCostPerImage = (GPU.dollarsPerHour / 3600) * GPU.secondsPerImage;

/** Memory (MB) of each function, as CDK deploys it: the tasks' from FUNCTION_SIZING, the gateway's from its construct. */
export function functionMemory(): { tasks: Record<string, number>; gateway: number } {
  const tasks = Object.fromEntries(Object.entries(FUNCTION_SIZING).map(([state, s]) => [state, s.memoryMb]));
  const gatewaySource = readFileSync(new URL('../cdk/constructs/gateway.ts', import.meta.url), 'utf8');
  const gateway = Number(/memorySize: (\d+)/.exec(gatewaySource)?.[1]);
  if (!gateway) throw new Error('cannot read memorySize from cdk/constructs/gateway.ts');
  return { tasks, gateway };
}

const PUT_TIER = /^(Put|Copy|List|CreateMultipartUpload|UploadPart|CompleteMultipartUpload|Post)/;

export interface CostInput {
  images: number;
  /** StateEntered + StateRetried of the job's execution. */
  transitions: number;
  tasks: TaskRecord[];
  /** GPU seconds per image measured in this run (simulator busy time / images). */
  measuredGpuSecondsPerImage: number;
  /** The job's gateway calls (start, result) with their round-trip times. */
  gatewayCalls: Array<{ tool: string; ms: number }>;
  aws: AwsRequestCount[];
  /** Image downloads through presigned URLs: S3 GETs outside the SDK. */
  downloads: number;
}

export interface CostLine {
  item: string;
  usagePerImage: string;
  dollarsPer1000: number;
}

export function costModel(input: CostInput) {
  const memory = functionMemory();
  const scale = GPU.secondsPerImage / input.measuredGpuSecondsPerImage;
  const perImage = (x: number) => x / input.images;

  // Lambda: each task invocation for its wall time at its memory. Generate tasks wait for the GPU
  // for most of their life: the part of their time the GPU was sampling for these images scales
  // with GPU speed; what they spent beyond it (reading the job, leasing, the last uploads, the
  // hand-overs between jobs) does not, nor does any other task's time.
  const generateMs = input.tasks.filter((t) => t.state === 'Generate images').reduce((n, t) => n + t.ms, 0);
  const gpuMs = input.measuredGpuSecondsPerImage * 1000 * input.images;
  const generateScale =
    generateMs > 0 ? (Math.min(generateMs, gpuMs) * scale + Math.max(0, generateMs - gpuMs)) / generateMs : 1;
  let gbSeconds = 0;
  let gbSecondsMeasured = 0;
  let invocations = 0;
  const byState: Record<string, { invocations: number; seconds: number; gbSecondsAt5s: number }> = {};
  for (const t of input.tasks) {
    const mb = memory.tasks[t.state] ?? 0;
    const gpuBound = t.state === 'Generate images';
    const gbs = ((t.ms / 1000) * mb) / 1024;
    const gbsAt5s = gpuBound ? gbs * generateScale : gbs;
    gbSecondsMeasured += gbs;
    gbSeconds += gbsAt5s;
    invocations++;
    const s = byState[t.state] ?? { invocations: 0, seconds: 0, gbSecondsAt5s: 0 };
    s.invocations++;
    s.seconds += t.ms / 1000;
    s.gbSecondsAt5s += gbsAt5s;
    byState[t.state] = s;
  }
  const gatewayGbSeconds = input.gatewayCalls.reduce(
    (t, c) => t + ((c.ms / 1000) * memory.gateway) / 1024,
    0,
  );
  const lambdaRequests = invocations + input.gatewayCalls.length;

  const dynamo = input.aws.filter((a) => a.service === 'DynamoDB');
  const rru = dynamo.reduce((t, a) => t + a.rru, 0);
  // Live progress is written once per PROGRESS_WRITE_MS of sampling: at GPU.secondsPerImage that is
  // secondsPerImage / 5 writes per image, each as many units as the runs here measured (1 if none
  // was written: the bench's job items are under 1 KB).
  const progress = dynamo.filter((a) => a.progress);
  const progressRequests = progress.reduce((t, a) => t + a.requests, 0);
  const unitsPerWrite = progressRequests > 0 ? progress.reduce((t, a) => t + a.wru, 0) / progressRequests : 1;
  const progressWru = input.images * (GPU.secondsPerImage / (PROGRESS_WRITE_MS / 1000)) * unitsPerWrite;
  const wru = dynamo.filter((a) => !a.progress).reduce((t, a) => t + a.wru, 0) + progressWru;
  const dynamoRequests = dynamo.reduce((t, a) => t + a.requests, 0);
  const s3 = input.aws.filter((a) => a.service === 'S3');
  const s3Puts = s3.filter((a) => PUT_TIER.test(a.command)).reduce((t, a) => t + a.requests, 0);
  const s3Gets =
    s3
      .filter((a) => !PUT_TIER.test(a.command) && !/^Delete/.test(a.command))
      .reduce((t, a) => t + a.requests, 0) + input.downloads;

  const lines: CostLine[] = [
    {
      item: 'Step Functions Standard transitions',
      usagePerImage: `${fmt(perImage(input.transitions))} transitions`,
      dollarsPer1000: 1000 * perImage(input.transitions) * PRICES.stepFunctionsPerTransition,
    },
    {
      item: 'Lambda GB-seconds (arm64), workflow tasks',
      usagePerImage: `${fmt(perImage(gbSeconds))} GB-s (measured ${fmt(perImage(gbSecondsMeasured))} at ${fmt(input.measuredGpuSecondsPerImage)} s/image)`,
      dollarsPer1000: 1000 * perImage(gbSeconds) * PRICES.lambdaPerGbSecondArm,
    },
    {
      item: 'Lambda GB-seconds (arm64), gateway (start + result)',
      usagePerImage: `${fmt(perImage(gatewayGbSeconds))} GB-s`,
      dollarsPer1000: 1000 * perImage(gatewayGbSeconds) * PRICES.lambdaPerGbSecondArm,
    },
    {
      item: 'Lambda requests',
      usagePerImage: `${fmt(perImage(lambdaRequests))} invocations`,
      dollarsPer1000: 1000 * perImage(lambdaRequests) * PRICES.lambdaPerRequest,
    },
    {
      item: 'DynamoDB on-demand reads',
      usagePerImage: `${fmt(perImage(rru))} RRU`,
      dollarsPer1000: 1000 * perImage(rru) * PRICES.dynamoPerReadUnit,
    },
    {
      item: 'DynamoDB on-demand writes',
      usagePerImage: `${fmt(perImage(wru))} WRU (${fmt(perImage(progressWru))} of them live progress, one write per ${PROGRESS_WRITE_MS / 1000} s of sampling at ${GPU.secondsPerImage} s/image; ${fmt(perImage(dynamoRequests))} requests measured)`,
      dollarsPer1000: 1000 * perImage(wru) * PRICES.dynamoPerWriteUnit,
    },
    {
      item: 'S3 PUT-class requests',
      usagePerImage: `${fmt(perImage(s3Puts))} PUT`,
      dollarsPer1000: 1000 * perImage(s3Puts) * PRICES.s3PerPut,
    },
    {
      item: 'S3 GET-class requests (downloads included)',
      usagePerImage: `${fmt(perImage(s3Gets))} GET`,
      dollarsPer1000: 1000 * perImage(s3Gets) * PRICES.s3PerGet,
    },
  ];
  const totalPer1000 = lines.reduce((t, l) => t + l.dollarsPer1000, 0);
  const gpuPer1000 = 1000 * gpuCostPerImage;
  return {
    lines,
    byState,
    memory,
    scale,
    totalPer1000,
    gpuPer1000,
    share: totalPer1000 / gpuPer1000,
  };
}

const fmt = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 1 ? x.toFixed(2) : x.toPrecision(3));
