import { readFile } from 'node:fs/promises';

export interface ProcStat {
  /** R, S, D, Z (a zombie: ended, not yet reaped), ... */
  state: string;
  ppid: number;
  /** When the process started, in clock ticks since boot: with the pid, it names one process. */
  startTicks: string;
}

/** A process as Linux's /proc/<pid>/stat shows it; undefined when it is gone or there is no /proc. */
export async function procStat(pid: number): Promise<ProcStat | undefined> {
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // Field 2, the command name, may hold spaces and parentheses: count the fields after its last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const [state, ppid] = fields;
  // Fields 3 (state), 4 (ppid) ... 22 (starttime), so starttime is the 20th after the name.
  const startTicks = fields[19];
  if (!state || !ppid || !startTicks) return undefined;
  return { state, ppid: Number(ppid), startTicks };
}
