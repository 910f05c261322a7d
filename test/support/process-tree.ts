import { readdir, readFile } from 'node:fs/promises';
import { procStat } from '../../local/proc-stat.ts';
import { sleep } from './embedded.ts';

/** One process, named by its pid and start time so that a reused pid is not taken for it. */
export interface ProcessRef {
  pid: number;
  startTicks: string;
  command: string;
}

/** `pid` and every process below it, from Linux's /proc/<pid>/task/<tid>/children. */
export async function processTree(pid: number): Promise<ProcessRef[]> {
  const found: ProcessRef[] = [];
  const queue = [pid];
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    const stat = await procStat(next);
    if (!stat) continue;
    found.push({ pid: next, startTicks: stat.startTicks, command: await commandLine(next) });
    for (const tid of await readdir(`/proc/${next}/task`).catch(() => [])) {
      const children = await readFile(`/proc/${next}/task/${tid}/children`, 'utf8').catch(() => '');
      queue.push(...children.split(' ').filter(Boolean).map(Number));
    }
  }
  return found;
}

/** Those of `processes` still running (a zombie has ended: it only waits to be reaped). */
export async function stillRunning(processes: ProcessRef[]): Promise<ProcessRef[]> {
  const running: ProcessRef[] = [];
  for (const p of processes) {
    const stat = await procStat(p.pid);
    if (stat && stat.state !== 'Z' && stat.startTicks === p.startTicks) running.push(p);
  }
  return running;
}

/**
 * Running processes whose environment holds `entry`, such as a test's own SDBATCH_DATA_DIR: every
 * process a spawned stack started, even one that was reparented and so is no longer in its tree.
 */
export async function processesWithEnv(entry: string): Promise<ProcessRef[]> {
  const found: ProcessRef[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const environ = await readFile(`/proc/${name}/environ`, 'utf8').catch(() => '');
    if (!environ.split('\0').includes(entry)) continue;
    const stat = await procStat(Number(name));
    if (stat && stat.state !== 'Z') {
      found.push({
        pid: Number(name),
        startTicks: stat.startTicks,
        command: await commandLine(Number(name)),
      });
    }
  }
  return found;
}

/** Polls until `list()` is empty or `timeoutMs` has passed; returns what was still there at the end. */
export async function untilNone(list: () => Promise<ProcessRef[]>, timeoutMs: number): Promise<ProcessRef[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = await list();
    if (left.length === 0 || Date.now() > deadline) return left;
    await sleep(50);
  }
}

/** SIGKILLs those of `processes` still running: a failed test leaves nothing behind. */
export async function killAll(processes: ProcessRef[]): Promise<void> {
  for (const p of await stillRunning(processes)) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // Ended meanwhile.
    }
  }
}

async function commandLine(pid: number): Promise<string> {
  const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return raw.split('\0').filter(Boolean).join(' ');
}
