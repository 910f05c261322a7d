import { type ChildProcess, spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { LOCK_FILE, type LockHolder, lockDataDir, thisProcess } from '../../../local/data-dir-lock.ts';
import { procStat } from '../../../local/proc-stat.ts';
import { StartRefused } from '../../../local/start-refused.ts';
import { exited } from '../../support/spawned-stack.ts';
import { tempDir } from '../../support/temp-dir.ts';

let dir: Awaited<ReturnType<typeof tempDir>>;
const children: ChildProcess[] = [];
beforeEach(async () => {
  await dir?.remove();
  dir = await tempDir('sdbatch-lock-');
});
afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await dir?.remove();
});

/** Another process, running until the tests end. */
async function otherProcess(): Promise<LockHolder> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 60_000)'], { stdio: 'ignore' });
  children.push(child);
  const stat = await procStat(child.pid ?? 0);
  const { bootId } = await thisProcess();
  return { pid: child.pid ?? 0, startTicks: stat?.startTicks, bootId };
}

const lockFile = () => join(dir.path, LOCK_FILE);
const leaveLock = (holder: unknown) => writeFile(lockFile(), `${JSON.stringify(holder)}\n`);

describe('the data dir lock', () => {
  it('refuses a data dir another live process holds, naming the dir, the pid and SDBATCH_DATA_DIR', async () => {
    const holder = await otherProcess();
    await leaveLock(holder);

    const taking = lockDataDir(dir.path);
    await expect(taking).rejects.toBeInstanceOf(StartRefused);
    await expect(taking).rejects.toThrow(
      `The data dir ${dir.path} is in use by another sdbatch (pid ${holder.pid}): stop that one, or set SDBATCH_DATA_DIR to another directory.`,
    );
    expect(JSON.parse(await readFile(lockFile(), 'utf8'))).toEqual(holder);
  });

  it('takes over a lock whose process has ended, as a SIGKILLed stack leaves it', async () => {
    const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    await exited(child);
    await leaveLock({ pid: child.pid });

    const lock = await lockDataDir(dir.path);
    expect(JSON.parse(await readFile(lockFile(), 'utf8'))).toEqual(await thisProcess());
    await lock.release();
  });

  it('takes over a lock whose pid now names another process (started later, or in another boot)', async () => {
    const live = await otherProcess();
    await leaveLock({ ...live, startTicks: '1' });
    await (await lockDataDir(dir.path)).release();
    await leaveLock({ ...live, bootId: 'an-earlier-boot' });
    await (await lockDataDir(dir.path)).release();
  });

  it('takes over a lock file that names no process', async () => {
    await writeFile(lockFile(), 'not json');
    await (await lockDataDir(dir.path)).release();
  });

  it('is held once per process too, until released', async () => {
    const lock = await lockDataDir(dir.path);
    await expect(lockDataDir(dir.path)).rejects.toBeInstanceOf(StartRefused);
    await lock.release();
    await (await lockDataDir(dir.path)).release();
  });

  it('treats a lock naming this pid but not held here as a dead predecessor (a restarted container reuses pids)', async () => {
    await leaveLock({ pid: process.pid, startTicks: '1' });
    await (await lockDataDir(dir.path)).release();
  });

  it('on release leaves alone a lock that is no longer its own', async () => {
    const lock = await lockDataDir(dir.path);
    const other = await otherProcess();
    await leaveLock(other);
    await lock.release();
    expect(JSON.parse(await readFile(lockFile(), 'utf8'))).toEqual(other);
  });
});
