import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lockDataDir } from '../../local/data-dir-lock.ts';
import type { EmbeddedStack } from '../../local/stack.ts';
import { callTool, connectClient, startTestStack } from '../support/embedded.ts';
import { exited, MAIN, spawnInRepo } from '../support/spawned-stack.ts';
import { tempDir } from '../support/temp-dir.ts';

/**
 * A second stack started where one already runs must not touch the first one's data or
 * port; it says in one line what is taken and which setting chooses another, then exits.
 */

let held: Awaited<ReturnType<typeof tempDir>>;
let spare: Awaited<ReturnType<typeof tempDir>>;
let first: EmbeddedStack;
let busyPort: Server;

beforeAll(async () => {
  held = await tempDir('sdbatch-held-');
  spare = await tempDir('sdbatch-spare-');
  first = await startTestStack(held.path);
  busyPort = createServer();
  await new Promise<void>((resolve) => busyPort.listen(0, '127.0.0.1', resolve));
});
afterAll(async () => {
  await first?.stop();
  await new Promise((resolve) => busyPort?.close(resolve));
  await held?.remove();
  await spare?.remove();
});

/** `npm start`'s command with `env`, run to its end. */
async function runSecond(env: Record<string, string>) {
  const second = spawnInRepo(process.execPath, [MAIN], env);
  const code = await exited(second.child);
  return { code, stdout: second.stdout(), stderr: second.stderr() };
}

describe('a second stack', () => {
  it('on a data dir in use exits non-zero with one line naming the dir and SDBATCH_DATA_DIR', async () => {
    const second = await runSecond({ SDBATCH_PORT: '0', SDBATCH_DATA_DIR: held.path });

    expect(second.code).toBe(1);
    expect(second.stderr.trimEnd().split('\n')).toEqual([
      expect.stringMatching(new RegExp(`${held.path}.*in use.*SDBATCH_DATA_DIR`)),
    ]);
    expect(second.stdout).not.toContain('sdbatch is running');
    // The first stack goes on undisturbed.
    const client = await connectClient(first);
    const { result } = await callTool(client, 'sdreforge_batch_list', {});
    expect(result.isError).toBeFalsy();
    await client.close();
  });

  it('on a port in use exits non-zero with one line naming the port and SDBATCH_PORT, leaving its data dir free', async () => {
    const { port } = busyPort.address() as { port: number };
    const second = await runSecond({ SDBATCH_PORT: String(port), SDBATCH_DATA_DIR: spare.path });

    expect(second.code).toBe(1);
    expect(second.stderr.trimEnd().split('\n')).toEqual([
      expect.stringMatching(new RegExp(`[Pp]ort ${port}\\b.*in use.*SDBATCH_PORT`)),
    ]);
    const lock = await lockDataDir(spare.path);
    await lock.release();
  });
});
