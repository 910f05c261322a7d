/**
 * The embedded stack as `npm start` runs it (startEmbeddedStack with the environment's
 * configuration), in its own process, plus the benchmark's counters; it answers the benchmark over
 * the IPC channel. The load generator and MCP clients stay in the parent process.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { loadLocalConfig } from '../local/config.ts';
import { startEmbeddedStack } from '../local/stack.ts';
import { Metrics } from './metrics.ts';
import type { HostCommand, HostReady, HostReply, HostSnapshot } from './protocol.ts';

if (!process.send) throw new Error('bench/stack-host.ts runs as a child of bench/run.ts');
const send = (message: HostReady | HostReply) => process.send?.(message);

const metrics = new Metrics();
const hooks = metrics.hooks();
// Counting AWS requests adds a middleware to every SDK call: only the stack that prices a job needs it.
if (process.env.BENCH_COUNT_AWS !== '1') delete hooks.instrumentClient;
const tokenLength = Number(process.env.BENCH_SCALE_TOKEN_LENGTH || 0);
const stack = await startEmbeddedStack(loadLocalConfig(process.env), {
  metrics: hooks,
  ...(tokenLength > 0 ? { flatImages: true, taskTokenLength: tokenLength } : {}),
});
/** What lets the simulated GPUs go again, while they are held (see Simulator.hold). */
let held: Array<() => void> = [];
const loop = monitorEventLoopDelay({ resolution: 1 });
loop.enable();
const toEpoch = (t: number) => performance.timeOrigin + t;

function snapshot(): HostSnapshot {
  return {
    metrics: metrics.snapshot(),
    simulators: stack.simulators.map((sim) => {
      const stats = sim.stats();
      return {
        url: sim.url,
        busy: stats.busyIntervals.map((i) => ({ start: toEpoch(i.start), end: toEpoch(i.end) })),
        requests: stats.requests,
        imagesReturned: stats.imagesReturned,
      };
    }),
    cpu: process.cpuUsage(),
  };
}

process.on('message', async (message: HostCommand) => {
  try {
    switch (message.cmd) {
      case 'reset':
        metrics.reset();
        for (const sim of stack.simulators) sim.resetStats();
        return send({ id: message.id, ok: true, result: null });
      case 'snapshot':
        return send({ id: message.id, ok: true, result: snapshot() });
      case 'loopDelay': {
        const result = {
          p50: loop.percentile(50) / 1e6,
          p99: loop.percentile(99) / 1e6,
          max: loop.max / 1e6,
        };
        loop.reset();
        return send({ id: message.id, ok: true, result });
      }
      case 'history':
        return send({
          id: message.id,
          ok: true,
          result: stack.orchestrator.historyOf(message.jobId) ?? { outcome: 'unknown', historyEvents: 0 },
        });
      case 'memory': {
        const { rss, heapUsed, heapTotal, external, arrayBuffers } = process.memoryUsage();
        const stores = await stack.stores.heap?.();
        const result = {
          ...{ rss, heapUsed, heapTotal, external, arrayBuffers },
          ...(stores ? { storesHeapUsed: stores.used, storesHeapTotal: stores.total } : {}),
        };
        return send({ id: message.id, ok: true, result });
      }
      case 'holdGpus':
        held.push(...stack.simulators.map((sim) => sim.hold()));
        return send({ id: message.id, ok: true, result: null });
      case 'releaseGpus':
        for (const release of held) release();
        held = [];
        return send({ id: message.id, ok: true, result: null });
      case 'executionEnd':
        return send({ id: message.id, ok: true, result: await metrics.executionEnd(message.jobId) });
      case 'stop':
        await stack.stop();
        send({ id: message.id, ok: true, result: null });
        process.disconnect();
        return;
    }
  } catch (error) {
    send({ id: message.id, ok: false, error: String(error) });
  }
});

send({
  type: 'ready',
  mcpUrl: stack.mcpUrl,
  token: stack.token,
  simulators: stack.simulators.map((s) => s.url),
  pid: process.pid,
});
