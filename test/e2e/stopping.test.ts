import { createServer } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { lockDataDir } from '../../local/data-dir-lock.ts';
import {
  killAll,
  type ProcessRef,
  processesWithEnv,
  processTree,
  stillRunning,
  untilNone,
} from '../support/process-tree.ts';
import { exited, spawnStack } from '../support/spawned-stack.ts';
import { tempDir } from '../support/temp-dir.ts';

/**
 * A process manager or a terminal stops `npm start` by signalling the npm process alone.
 * The whole stack must stop with it, leaving its port and data dir free for the next start.
 */

const leftovers: ProcessRef[] = [];
const dirs: Array<Awaited<ReturnType<typeof tempDir>>> = [];
afterAll(async () => {
  // A stack that outlived its npm would hold the port and the data dir for the rest of the run.
  await killAll(leftovers);
  for (const dir of dirs) await dir.remove();
});

/** Whether a new server can listen on the port: the stopped stack let it go. */
function portIsFree(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

describe('npm start, signalled at the npm process as a process manager does', () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`stops the whole stack on ${signal} and frees its port and data dir`, async () => {
      const dir = await tempDir('sdbatch-stop-');
      dirs.push(dir);
      const running = await spawnStack('npm', ['start'], { SDBATCH_PORT: '0', SDBATCH_DATA_DIR: dir.path });
      const npm = running.child.pid ?? 0;
      const tree = await processTree(npm);
      leftovers.push(...tree);
      // npm and, below it, the node that runs the stack.
      expect(tree.map((p) => p.command)).toEqual(
        expect.arrayContaining([expect.stringContaining('local/main.ts')]),
      );
      const port = Number(new URL(running.mcpUrl).port);

      process.kill(npm, signal);

      // Anything the stack started carries its data dir in its environment, wherever it was reparented.
      const ours = `SDBATCH_DATA_DIR=${dir.path}`;
      const left = await untilNone(async () => {
        const both = [...(await stillRunning(tree)), ...(await processesWithEnv(ours))];
        return [...new Map(both.map((p) => [p.pid, p])).values()];
      }, 20_000);
      expect(left).toEqual([]);
      expect(await exited(running.child)).toBe(0);
      // The stack itself was told to stop (it was not just killed) and said so.
      expect(running.stdout()).toContain(`${signal}: stopping sdbatch...`);
      expect(await portIsFree(port)).toBe(true);
      const lock = await lockDataDir(dir.path);
      await lock.release();
    });
  }
});
