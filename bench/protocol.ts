/** Messages between the benchmark (parent) and the embedded stack it runs as a child process. */

import type { ExecutionRecord, MetricsSnapshot } from './metrics.ts';
import type { Interval } from './stats.ts';

export interface HostReady {
  type: 'ready';
  mcpUrl: string;
  token: string;
  simulators: string[];
  pid: number;
}

export interface SimulatorSnapshot {
  url: string;
  /** Sampling runs, in epoch ms. */
  busy: Interval[];
  requests: number;
  imagesReturned: number;
}

export interface HostSnapshot {
  metrics: MetricsSnapshot;
  simulators: SimulatorSnapshot[];
  /** process.cpuUsage() of the stack's process, µs. */
  cpu: { user: number; system: number };
}

export type HostCommand =
  | { id: number; cmd: 'reset' }
  | { id: number; cmd: 'snapshot' }
  | { id: number; cmd: 'executionEnd'; jobId: string }
  | { id: number; cmd: 'loopDelay' }
  | { id: number; cmd: 'history'; jobId: string }
  | { id: number; cmd: 'memory' }
  | { id: number; cmd: 'holdGpus' }
  | { id: number; cmd: 'releaseGpus' }
  | { id: number; cmd: 'stop' };

/** Event-loop delay of the stack's process since the last ask, ms. */
export interface LoopDelay {
  p50: number;
  p99: number;
  max: number;
}

/** A job's execution history as Step Functions would count it, from the embedded orchestrator. */
export interface HistoryAnswer {
  outcome: string;
  historyEvents: number;
}

/** process.memoryUsage() of the stack's process, bytes (rss counts every thread, the stores' too). */
export interface MemoryAnswer {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  /** The DynamoDB and S3 emulators' own heap (their thread's isolate): used and committed. */
  storesHeapUsed?: number;
  storesHeapTotal?: number;
}

export type HostReply =
  | {
      id: number;
      ok: true;
      result: HostSnapshot | ExecutionRecord | LoopDelay | HistoryAnswer | MemoryAnswer | null;
    }
  | { id: number; ok: false; error: string };
