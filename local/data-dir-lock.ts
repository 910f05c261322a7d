import { randomUUID } from 'node:crypto';
import { link, mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { procStat } from './proc-stat.ts';
import { StartRefused } from './start-refused.ts';

/** In the data dir while a stack uses it: who holds it, as JSON. */
export const LOCK_FILE = 'sdbatch.lock';

/** The process holding a lock. Where Linux tells them, its start time and the boot tell a reused pid apart. */
export interface LockHolder {
  pid: number;
  startTicks?: string;
  bootId?: string;
}

export interface DataDirLock {
  release(): Promise<void>;
}

/** Lock files this process holds (a pid alone cannot tell this process from a dead one that had its pid). */
const heldHere = new Set<string>();

/**
 * Takes the data dir for this process, or throws StartRefused naming the live process that has it.
 * A lock whose holder is gone (killed, crashed) is taken over, so a SIGKILL never leaves it stuck.
 */
export async function lockDataDir(dataDir: string): Promise<DataDirLock> {
  await mkdir(dataDir, { recursive: true });
  const file = join(dataDir, LOCK_FILE);
  const mine = `${JSON.stringify(await thisProcess())}\n`;
  // A few rounds: another stack may take or drop the lock between our steps.
  for (let round = 0; round < 5; round++) {
    if (await createWith(file, mine)) {
      heldHere.add(file);
      return { release: () => release(file, mine) };
    }
    const text = await readIfThere(file);
    if (text === undefined) continue;
    const holder = parseHolder(text);
    if (holder && (await holds(file, holder))) {
      throw new StartRefused(
        `The data dir ${resolve(dataDir)} is in use by another sdbatch (pid ${holder.pid}): stop that one, or set SDBATCH_DATA_DIR to another directory.`,
      );
    }
    await removeStale(file, text);
  }
  throw new Error(`cannot lock ${file}: it keeps changing`);
}

export async function thisProcess(): Promise<LockHolder> {
  const stat = await procStat(process.pid);
  return { pid: process.pid, startTicks: stat?.startTicks, bootId: await bootId() };
}

/** Whether the process a lock file names is still running (and is the one that wrote it). */
async function holds(file: string, holder: LockHolder): Promise<boolean> {
  if (holder.pid === process.pid) return heldHere.has(file);
  try {
    process.kill(holder.pid, 0);
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (holder.bootId && holder.bootId !== (await bootId())) return false;
  const stat = await procStat(holder.pid);
  if (stat?.state === 'Z') return false;
  return !holder.startTicks || !stat || stat.startTicks === holder.startTicks;
}

/** Creates the lock file with its whole content at once (a hard link of a written file), or false if it exists. */
async function createWith(file: string, text: string): Promise<boolean> {
  const draft = `${file}.${randomUUID()}.new`;
  await writeFile(draft, text);
  try {
    await link(draft, file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await unlink(draft);
  }
}

/** Removes a dead holder's lock, and only it: moved aside first, put back if another stack took it meanwhile. */
async function removeStale(file: string, staleText: string): Promise<void> {
  const aside = `${file}.${randomUUID()}.stale`;
  try {
    await rename(file, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  if ((await readFile(aside, 'utf8')) !== staleText) await link(aside, file).catch(() => {});
  await unlink(aside);
}

async function release(file: string, mine: string): Promise<void> {
  heldHere.delete(file);
  if ((await readIfThere(file)) === mine) await unlink(file).catch(() => {});
}

function parseHolder(text: string): LockHolder | undefined {
  try {
    const holder = JSON.parse(text) as LockHolder;
    return Number.isInteger(holder.pid) && holder.pid > 0 ? holder : undefined;
  } catch {
    return undefined;
  }
}

async function readIfThere(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

async function bootId(): Promise<string | undefined> {
  return (await readFile('/proc/sys/kernel/random/boot_id', 'utf8').catch(() => undefined))?.trim();
}
