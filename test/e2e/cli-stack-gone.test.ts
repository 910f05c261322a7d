import { readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.ts';
import { exited, MAIN, type SpawnedStack, spawnStack } from '../support/spawned-stack.ts';
import { tempDir } from '../support/temp-dir.ts';

let dir: Awaited<ReturnType<typeof tempDir>>;
const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
let running: SpawnedStack | undefined;

/** `npm start` on a port of its own and a data dir of its own, as a user would set them. */
async function startStack(): Promise<{ cli: (...args: string[]) => ReturnType<typeof runCli> }> {
  dir = await tempDir();
  running = await spawnStack(process.execPath, [MAIN], { SDBATCH_PORT: '0', SDBATCH_DATA_DIR: dir.path });
  const env = { SDBATCH_DATA_DIR: dir.path, XDG_CONFIG_HOME: join(dir.path, 'config') };
  return { cli: (...args) => runCli(args, env) };
}

afterEach(async () => {
  if (running && running.child.exitCode === null && running.child.signalCode === null) {
    running.child.kill('SIGKILL');
    await exited(running.child);
  }
  running = undefined;
  await dir.remove();
});

describe('the CLI and a stack that is not running', () => {
  it('after a clean stop finds no connection.json, and names the URL nothing listens at', async () => {
    const { cli } = await startStack();
    const stack = running as SpawnedStack;
    expect(await cli('list')).toMatchObject({ code: 0, stdout: 'No jobs.\n', stderr: '' });
    // Both Claude Code forms, this directory only and every directory of the user.
    expect(stack.stdout()).toContain(`\n  claude mcp add --transport http sdbatch ${stack.mcpUrl} --header`);
    expect(stack.stdout()).toContain(
      `\n  claude mcp add --transport http --scope user sdbatch ${stack.mcpUrl} --header`,
    );
    // The README shows the banner as npm start prints it on the default data dir and port.
    const banner = stack
      .stdout()
      .trimEnd()
      .replaceAll(join(dir.path, 'connection.json'), '.sdbatch/connection.json')
      .replaceAll(dir.path, './.sdbatch')
      .replaceAll(stack.mcpUrl, 'http://127.0.0.1:8787/mcp')
      .replaceAll(stack.token, 'sdb_…')
      .replaceAll(stack.sdWebUiUrl, 'http://127.0.0.1:41235');
    expect(README).toContain(`\n\`\`\`\n${banner}\n\`\`\`\n`);

    stack.child.kill('SIGINT');
    expect(await exited(stack.child)).toBe(0);
    await expect(stat(join(dir.path, 'connection.json'))).rejects.toMatchObject({ code: 'ENOENT' });
    // The token is still in the data dir: only the connection fails, and the message says where.
    const gone = await cli('list', '--url', stack.mcpUrl);
    expect(gone).toMatchObject({
      code: 1,
      stdout: '',
      stderr: `error: nothing is listening at ${stack.mcpUrl} (ECONNREFUSED; URL given by --url) — is \`npm start\` running (with the same SDBATCH_DATA_DIR)?\n`,
    });
  });

  it('after a kill reads the URL the stack left and says nothing listens there', async () => {
    const { cli } = await startStack();
    const stack = running as SpawnedStack;
    stack.child.kill('SIGKILL');
    await exited(stack.child);
    const gone = await cli('status', 'job_20261124_aaaaaaaaaa');
    expect(gone.code).toBe(1);
    expect(gone.stderr).toBe(
      `error: nothing is listening at ${stack.mcpUrl} (ECONNREFUSED; URL read from ${join(dir.path, 'connection.json')}) — is \`npm start\` running (with the same SDBATCH_DATA_DIR)?\n`,
    );
  });
});
