import { readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { captured } from '../../support/cli.ts';
import { REPO } from '../../support/spawned-stack.ts';

/**
 * A user's shell after npm ci: the machine's own node and npm first, not the project's Node 24
 * (the test runner has node_modules/.bin first on its PATH).
 */
const userPath = (process.env.PATH ?? '')
  .split(delimiter)
  .filter((dir) => !dir.includes('node_modules'))
  .join(delimiter);

const inShell = (command: string, args: string[]) => captured(command, args, { PATH: userPath }, REPO);

describe('the sdbatch command npm ci installs', () => {
  it('runs on the Node 24 of node_modules whatever node comes first on PATH, with its exit code', async () => {
    const bin = join(REPO, 'node_modules', '.bin', 'sdbatch');
    const help = await inShell(bin, ['--help']);
    expect(help).toMatchObject({ code: 0, stderr: '' });
    expect(help.stdout).toMatch(/^sdbatch: talk to an sdbatch gateway/);
    const { version } = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string };
    expect(await inShell(bin, ['--version'])).toMatchObject({ code: 0, stdout: `sdbatch ${version}\n` });
    const helpCommand = await inShell(bin, ['help']);
    expect(helpCommand).toMatchObject({ code: 0, stdout: help.stdout });
    const wrong = await inShell(bin, ['stauts']);
    expect(wrong).toMatchObject({ code: 2, stdout: '' });
    expect(wrong.stderr).toMatch(/unknown command stauts; did you mean status\?/);
  });

  it('starts through npx with no npm warning', async () => {
    const help = await inShell('npx', ['sdbatch', '--help']);
    expect(help).toMatchObject({ code: 0, stderr: '' });
    expect(help.stdout).toMatch(/^sdbatch: talk to an sdbatch gateway/);
  });
});
