/** Starts bench/stack-host.ts as a child process and talks to it. */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionRecord } from './metrics.ts';
import type {
  HistoryAnswer,
  HostCommand,
  HostReady,
  HostReply,
  HostSnapshot,
  LoopDelay,
  MemoryAnswer,
} from './protocol.ts';

export interface HostOptions {
  simHosts: number;
  depth: number;
  stepMs: number;
  /** Count every AWS SDK request (for the cost model). */
  countAws: boolean;
  /** The scale scenarios: flat images (no picture work), AWS-sized task tokens, room for 1,000 jobs. */
  scale?: { taskTokenLength: number; maxActiveJobs: number };
}

type Command = HostCommand extends infer C ? (C extends { id: number } ? Omit<C, 'id'> : never) : never;

export class StackHost {
  readonly ready: HostReady;
  readonly dataDir: string;
  private readonly child: ChildProcess;
  private nextId = 1;
  private readonly pending = new Map<number, (reply: HostReply) => void>();

  private constructor(child: ChildProcess, ready: HostReady, dataDir: string) {
    this.child = child;
    this.ready = ready;
    this.dataDir = dataDir;
    child.on('message', (reply: HostReply) => {
      this.pending.get(reply.id)?.(reply);
      this.pending.delete(reply.id);
    });
  }

  static async start(options: HostOptions): Promise<StackHost> {
    const dataDir = await mkdtemp(join(tmpdir(), 'sdbatch-bench-'));
    // Diagnostics only, e.g. BENCH_STACK_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' or '--trace-gc'.
    const nodeArgs = (process.env.BENCH_STACK_ARGS ?? '').split(' ').filter(Boolean);
    const child = spawn(
      process.execPath,
      [...nodeArgs, new URL('./stack-host.ts', import.meta.url).pathname],
      {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        env: {
          ...process.env,
          SDBATCH_PORT: '0',
          SDBATCH_HOST: '127.0.0.1',
          SDBATCH_DATA_DIR: dataDir,
          SDBATCH_SIM_HOSTS: String(options.simHosts),
          SDBATCH_HOST_DEPTH: String(options.depth),
          SDBATCH_SIM_STEP_MS: String(options.stepMs),
          // The built-in simulators, the defaults for everything else.
          SD_WEBUI_URL: '',
          SDBATCH_SIM_FAULTS: '',
          SDBATCH_CONCURRENCY: '',
          SDBATCH_TOKEN: '',
          BENCH_COUNT_AWS: options.countAws ? '1' : '0',
          BENCH_SCALE_TOKEN_LENGTH: options.scale ? String(options.scale.taskTokenLength) : '',
          SDBATCH_MAX_ACTIVE_JOBS: options.scale ? String(options.scale.maxActiveJobs) : '',
        },
      },
    );
    const ready = await new Promise<HostReady>((resolve, reject) => {
      child.once('message', (m: HostReady) => resolve(m));
      child.once('exit', (code) => reject(new Error(`stack host exited with ${code} before it was ready`)));
    });
    return new StackHost(child, ready, dataDir);
  }

  private call<T>(command: Command): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, (reply) =>
        reply.ok ? resolve(reply.result as T) : reject(new Error(reply.error)),
      );
      this.child.send({ ...command, id } as HostCommand);
    });
  }

  reset = () => this.call<null>({ cmd: 'reset' });
  snapshot = () => this.call<HostSnapshot>({ cmd: 'snapshot' });
  /** Occupies every simulated GPU until releaseGpus: calls queue inside them meanwhile. */
  holdGpus = () => this.call<null>({ cmd: 'holdGpus' });
  releaseGpus = () => this.call<null>({ cmd: 'releaseGpus' });
  /** Event-loop delay of the stack since the last call. */
  loopDelay = () => this.call<LoopDelay>({ cmd: 'loopDelay' });
  executionEnd = (jobId: string) => this.call<ExecutionRecord>({ cmd: 'executionEnd', jobId });
  /** The job's history length so far, as Step Functions counts it. */
  history = (jobId: string) => this.call<HistoryAnswer>({ cmd: 'history', jobId });

  /** The stack process's memory now. */
  memory = () => this.call<MemoryAnswer>({ cmd: 'memory' });

  /** Peak resident set size (VmHWM) of the stack's process so far, in MiB. */
  async peakRssMiB(): Promise<number> {
    const status = await readFile(`/proc/${this.ready.pid}/status`, 'utf8');
    const kb = Number(/VmHWM:\s+(\d+)\s+kB/.exec(status)?.[1]);
    return kb / 1024;
  }

  /** Seconds of CPU the stack's process has used (user + system), from /proc. */
  async cpuSeconds(): Promise<number> {
    const stat = await readFile(`/proc/${this.ready.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  }

  /** Ends the stack's process at once (a scale cell past its time cap), and removes its data. */
  async kill(): Promise<void> {
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
    await exited;
    await rm(this.dataDir, { recursive: true, force: true });
  }

  async stop(): Promise<void> {
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    await Promise.race([this.call<null>({ cmd: 'stop' }), exited]);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
    await rm(this.dataDir, { recursive: true, force: true });
  }
}
