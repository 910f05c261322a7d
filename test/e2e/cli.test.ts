import { mkdir, readdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDRAW } from '../../cli/output.ts';
import { writeConnectionFile } from '../../local/connection-file.ts';
import { readPng } from '../../local/simulator/png.ts';
import type { EmbeddedStack } from '../../local/stack.ts';
import { runCli, runCliInTerminal } from '../support/cli.ts';
import { startTestStack } from '../support/embedded.ts';
import { tempDir } from '../support/temp-dir.ts';

let dir: Awaited<ReturnType<typeof tempDir>>;
let stack: EmbeddedStack;
let dataDir: string;
/** What the user sets: only where the stack keeps its data (no URL, no token), and no config file. */
let env: Record<string, string>;

/** `sdbatch ...` as a user runs it, finding the stack (on a port of its own) from SDBATCH_DATA_DIR alone. */
const sdbatch = (...args: string[]) => runCli(args, env);

/** A job id from `sdbatch start ... --json`. */
async function started(...args: string[]): Promise<string> {
  const answer = await sdbatch('start', ...args, '--json');
  expect(answer).toMatchObject({ code: 0, stderr: '' });
  return (JSON.parse(answer.stdout) as { job_id: string }).job_id;
}

beforeAll(async () => {
  dir = await tempDir();
  dataDir = join(dir.path, '.sdbatch');
  env = { SDBATCH_DATA_DIR: dataDir, XDG_CONFIG_HOME: join(dir.path, 'config') };
  stack = await startTestStack(dataDir, { SDBATCH_SIM_STEP_MS: '5' });
});
afterAll(async () => {
  await stack?.stop();
  await dir.remove();
});

describe('the sdbatch CLI against the embedded stack', () => {
  it('starts a job with any tool argument, watches it to the end and downloads every image, resumably', async () => {
    const started = await sdbatch(
      'start',
      'a red fox in snow',
      '--batch-size',
      '3',
      '--n-iter',
      '3',
      '--steps',
      '6',
      '--width',
      '64',
      '--height',
      '96',
      '--seed',
      '4242',
      '--json',
    );
    expect(started.code).toBe(0);
    const { job_id: jobId, total_images } = JSON.parse(started.stdout) as {
      job_id: string;
      total_images: number;
    };
    expect(total_images).toBe(9);

    const watched = await sdbatch('watch', jobId, '--json');
    expect(watched.code).toBe(0);
    const updates = watched.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { completed_images: number; status: string });
    expect(updates.at(-1)).toMatchObject({ status: 'completed', completed_images: 9 });
    const counts = updates.map((u) => u.completed_images);
    expect([...counts].sort((a, b) => a - b)).toEqual(counts);

    const target = join(dir.path, 'downloads');
    const first = await sdbatch('result', jobId, '--download', target, '--json');
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ files: 9, downloaded: 9, skipped: 0 });
    const names = (await readdir(target)).filter((name) => name.includes('-seed')).sort();
    expect(names).toEqual(
      Array.from({ length: 9 }, (_, k) => `00${Math.floor(k / 3)}-${k % 3}-seed${4242 + k}.png`),
    );
    for (const name of names) {
      const png = readPng(await readFile(join(target, name)));
      expect([png.width, png.height]).toEqual([64, 96]);
      expect(png.text.parameters).toContain(`Seed: ${name.match(/seed(\d+)/)?.[1]}`);
    }

    await unlink(join(target, names[4] as string));
    const again = await sdbatch('result', jobId, '--download', target, '--json');
    expect(JSON.parse(again.stdout)).toMatchObject({ files: 9, downloaded: 1, skipped: 8 });
  });

  it('downloads a batch that explains itself: its contact sheet and a manifest of every file', async () => {
    const jobId = await started(
      'a heron',
      '--batch-size',
      '2',
      '--n-iter',
      '2',
      '--steps',
      '3',
      '--seed',
      '77',
    );
    expect((await sdbatch('watch', jobId, '--interval', '0.1')).code).toBe(0);
    const target = join(dir.path, 'heron');
    // Right after the job ends its sheet may still be drawing: the download has it all the same.
    const downloaded = await sdbatch('result', jobId, '--download', target, '--json');
    expect(JSON.parse(downloaded.stdout)).toMatchObject({
      files: 4,
      contact_sheet: 'contact-sheet.png',
      manifest: 'manifest.json',
    });
    const names = (await readdir(target)).sort();
    expect(names).toEqual([
      '000-0-seed77.png',
      '000-1-seed78.png',
      '001-0-seed79.png',
      '001-1-seed80.png',
      'contact-sheet.png',
      'manifest.json',
    ]);
    const sheet = readPng(await readFile(join(target, 'contact-sheet.png')));
    expect(sheet.width).toBeGreaterThan(0);
    const manifest = JSON.parse(await readFile(join(target, 'manifest.json'), 'utf8')) as {
      job_id: string;
      contact_sheet: { file: string; images: number };
      files: Array<{ file: string; seed: number; iteration: number; index: number; infotext: string }>;
    };
    expect(manifest.job_id).toBe(jobId);
    expect(manifest.contact_sheet).toEqual({ file: 'contact-sheet.png', images: 4 });
    expect(manifest.files.map(({ file, seed, iteration, index }) => [file, seed, iteration, index])).toEqual([
      ['000-0-seed77.png', 77, 0, 0],
      ['000-1-seed78.png', 78, 0, 1],
      ['001-0-seed79.png', 79, 1, 0],
      ['001-1-seed80.png', 80, 1, 1],
    ]);
    for (const file of manifest.files) {
      // The infotext is the one in the PNG: the manifest says what made each file.
      const png = readPng(await readFile(join(target, file.file)));
      expect(file.infotext).toBe(png.text.parameters);
      expect(file.infotext).toContain(`Seed: ${file.seed}`);
    }
  });

  it('lists jobs and presets, cancels, and tells outcomes apart by exit code', async () => {
    const list = await sdbatch('list', '--json');
    expect(list.code).toBe(0);
    expect((JSON.parse(list.stdout) as { jobs: unknown[] }).jobs.length).toBeGreaterThanOrEqual(1);
    const presets = await sdbatch('presets');
    expect(presets.stdout).toContain('txt2img_default (default)');

    const long = JSON.parse(
      (await sdbatch('start', 'long', '--n-iter', '50', '--steps', '20', '--json')).stdout,
    ) as {
      job_id: string;
    };
    expect((await sdbatch('status', long.job_id)).code).toBe(6);
    const cancelled = await sdbatch('cancel', long.job_id);
    expect(cancelled.stdout).toMatch(/cancelled/);
    expect((await sdbatch('watch', long.job_id)).code).toBe(5);

    const unknown = await sdbatch('status', 'job_20261124_aaaaaaaaaa');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/does not exist/);
    const bogus = await sdbatch('bogus');
    expect(bogus).toMatchObject({ code: 2, stdout: '' });
    expect(bogus.stderr).toMatch(/unknown command bogus; the commands are start, list, status, watch/);
  });

  it('refuses a misspelt command, flag or tool argument, naming the nearest, and starts nothing', async () => {
    const before = (
      JSON.parse((await sdbatch('list', '--json', '--limit', '100')).stdout) as { jobs: unknown[] }
    ).jobs.length;
    const command = await sdbatch('stauts', 'job_20261124_aaaaaaaaaa');
    expect(command).toMatchObject({ code: 2, stdout: '' });
    expect(command.stderr).toMatch(/unknown command stauts; did you mean status\?/);
    const flag = await sdbatch('result', 'job_20261124_aaaaaaaaaa', '--dowload', 'out');
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(/unknown flag --dowload; did you mean --download\?/);
    const argument = await sdbatch('start', 'a cat', '--batch-sise', '4');
    expect(argument).toMatchObject({ code: 2, stdout: '' });
    expect(argument.stderr).toMatch(
      /unknown flag --batch-sise; did you mean --batch-size\? \(sdbatch start\)/,
    );
    // Types are the CLI's to check: exit 2 naming the flag and its type, before the server sees them.
    const noValue = await sdbatch('start', 'a cat', '--n-iter');
    expect(noValue).toMatchObject({
      code: 2,
      stdout: '',
      stderr:
        'error: --n-iter needs a value: an integer (sdbatch start); sdbatch --help lists the commands and their flags\n',
    });
    const notANumber = await sdbatch('start', 'a cat', '--batch-size', 'two');
    expect(notANumber).toMatchObject({ code: 2, stdout: '' });
    expect(notANumber.stderr).toMatch(/^error: --batch-size takes an integer, not "two" \(sdbatch start\)/);
    const badStatus = await sdbatch('list', '--status', 'runing');
    expect(badStatus.code).toBe(2);
    expect(badStatus.stderr).toMatch(
      /--status takes one of pending, running, .*, not "runing" \(sdbatch list\)/,
    );
    const listFlag = await sdbatch('list', '--stauts', 'running');
    expect(listFlag.code).toBe(2);
    expect(listFlag.stderr).toMatch(/unknown flag --stauts; did you mean --status\?/);
    const after = (
      JSON.parse((await sdbatch('list', '--json', '--limit', '100')).stdout) as { jobs: unknown[] }
    ).jobs.length;
    expect(after).toBe(before);
  });

  it('reads a command line before connecting: a type slip exits 2 with no gateway running', async () => {
    // Nothing listens here: an answer about the flag can only come from the CLI itself.
    const nowhere = { XDG_CONFIG_HOME: env.XDG_CONFIG_HOME as string, SDBATCH_URL: 'http://127.0.0.1:9/mcp' };
    const slip = await runCli(['start', 'a cat', '--batch-size', 'two'], nowhere);
    expect(slip).toMatchObject({ code: 2, stdout: '' });
    expect(slip.stderr).toMatch(/^error: --batch-size takes an integer, not "two" \(sdbatch start\)/);
    const listSlip = await runCli(['list', '--limit', '0.5'], nowhere);
    expect(listSlip).toMatchObject({ code: 2, stdout: '' });
    expect(listSlip.stderr).toMatch(/^error: --limit takes an integer, not "0.5" \(sdbatch list\)/);
    // The same command line, read fine, reaches for the gateway and says it is not there.
    const read = await runCli(['start', 'a cat', '--batch-size', '2'], nowhere);
    expect(read.code).toBe(1);
    expect(read.stderr).toMatch(/127\.0\.0\.1:9/);
  });
});

describe('cancel and result', () => {
  it('agree on what a cancelled job keeps, in CLI words', async () => {
    const jobId = await started('long', '--n-iter', '50', '--steps', '20');
    const cancelled = await sdbatch('cancel', jobId);
    expect(cancelled.code).toBe(0);
    // Names no tool a CLI user cannot run.
    expect(cancelled.stdout).not.toMatch(/sdreforge_/);
    const kept = /the (\d+) images? made before it (?:is|are) kept|no image was made before it/.exec(
      cancelled.stdout,
    );
    expect(kept, cancelled.stdout).not.toBeNull();
    const made = Number(kept?.[1] ?? 0);
    const finishing = Number(/up to (\d+) images\) is kept/.exec(cancelled.stdout)?.[1] ?? 0);
    // Once the job has stopped, result lists what cancel said would be kept: at least the images
    // made before it, at most those and the calls that were finishing.
    expect((await sdbatch('watch', jobId)).code).toBe(5);
    const result = await sdbatch('result', jobId);
    expect(result.code).toBe(5);
    const files = result.stdout.includes('\t') ? result.stdout.trimEnd().split('\n').length : 0;
    expect(files).toBeGreaterThanOrEqual(made);
    expect(files).toBeLessThanOrEqual(made + finishing);
    if (files === 0) expect(result.stdout).toBe('No images kept: the job is cancelled.\n');
    else expect(cancelled.stdout).toContain(`sdbatch result ${jobId} lists what is kept.`);
  });
});

describe('a token the gateway refuses', () => {
  const STALE = 'sdb_StaleStaleStaleStaleStaleStale';
  const refused = (from: string) =>
    `error: ${stack.mcpUrl} refused the token sdb_Stal… (${from}): 401 unauthorized: A valid bearer token is required. It may be revoked or another gateway's; `;

  it('says which token was sent and from where, for each place a token comes from', async () => {
    const empty = join(dir.path, 'empty');
    const bare = { SDBATCH_DATA_DIR: empty, XDG_CONFIG_HOME: join(dir.path, 'no-config') };
    const flag = await runCli(['list', '--url', stack.mcpUrl, '--token', STALE], bare);
    expect(flag).toMatchObject({ code: 1, stdout: '' });
    expect(flag.stderr).toContain(refused('given by --token'));
    const fromEnv = await runCli(['list'], { ...bare, SDBATCH_URL: stack.mcpUrl, SDBATCH_TOKEN: STALE });
    expect(fromEnv.stderr).toContain(`${refused('from SDBATCH_TOKEN')}unset SDBATCH_TOKEN`);

    const other = join(dir.path, 'other');
    await mkdir(other, { recursive: true });
    await writeConnectionFile(other, { url: stack.mcpUrl, token: STALE });
    const stackFile = await runCli(['list'], { ...bare, SDBATCH_DATA_DIR: other });
    expect(stackFile.stderr).toContain(
      refused(`read from ${join(other, 'connection.json')}, the stack's connection file`),
    );
    await unlink(join(other, 'connection.json'));

    const config = join(dir.path, 'config2', 'sdbatch', 'config.json');
    await mkdir(join(dir.path, 'config2', 'sdbatch'), { recursive: true });
    await writeFile(config, JSON.stringify({ url: stack.mcpUrl, token: STALE }));
    const fromConfig = await runCli(['list'], { ...bare, XDG_CONFIG_HOME: join(dir.path, 'config2') });
    expect(fromConfig.stderr).toContain(
      `${refused(`read from ${config}`)}put a token this gateway knows in ${config}`,
    );

    // The issue's case: another stack's token kept in the data dir, sent to the stack listening.
    await writeFile(join(other, 'token'), `${STALE}\n`);
    const kept = await runCli(['list'], { ...bare, SDBATCH_DATA_DIR: other, SDBATCH_URL: stack.mcpUrl });
    expect(kept).toMatchObject({ code: 1, stdout: '' });
    expect(kept.stderr).toContain(
      refused(
        `read from ${join(other, 'token')}, the token kept in the data dir ${other} (no connection.json there: no stack of that data dir is running)`,
      ),
    );
    for (const run of [flag, fromEnv, stackFile, fromConfig, kept])
      expect(run.stderr).not.toMatch(/Streamable HTTP/);
  });

  it('says a named token may not manage tokens, and a revoked one is refused', async () => {
    const created = await sdbatch('token', 'create', 'cli-named', '--json');
    const named = (JSON.parse(created.stdout) as { token: string }).token;
    const listed = await sdbatch('token', 'list', '--token', named);
    expect(listed).toMatchObject({ code: 1, stdout: '' });
    expect(listed.stderr).toBe(
      `error: ${stack.mcpUrl} does not let the token ${named.slice(0, 8)}… (given by --token) manage tokens: 403 forbidden: Only the admin token may manage tokens. Use a token that may (the admin token manages tokens: the one npm start keeps in its data dir, or a deployed gateway's from its TokenCommand)\n`,
    );
    expect((await sdbatch('token', 'revoke', 'cli-named')).code).toBe(0);
    const revoked = await sdbatch('presets', '--token', named);
    expect(revoked.code).toBe(1);
    expect(revoked.stderr).toContain(`refused the token ${named.slice(0, 8)}… (given by --token): 401`);
  });
});

describe('finding the stack', () => {
  it("reads the URL and token from the running stack's connection.json, readable by the user only", async () => {
    const file = join(dataDir, 'connection.json');
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({ url: stack.mcpUrl, token: stack.token });
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    // The port is not the default one: only the file can have told the CLI where it is.
    expect(new URL(stack.mcpUrl).port).not.toBe('8787');
    expect((await sdbatch('presets')).code).toBe(0);
  });

  it('looks in ./.sdbatch of the directory it runs in when SDBATCH_DATA_DIR is not set', async () => {
    const here = await runCli(
      ['presets'],
      { XDG_CONFIG_HOME: env.XDG_CONFIG_HOME as string },
      { cwd: dir.path },
    );
    expect(here).toMatchObject({ code: 0, stderr: '' });
    expect(here.stdout).toContain('txt2img_default (default)');
    const elsewhere = await runCli(['presets'], {
      XDG_CONFIG_HOME: env.XDG_CONFIG_HOME as string,
      SDBATCH_DATA_DIR: join(dir.path, 'none'),
    });
    expect(elsewhere.code).toBe(1);
  });
});

/** The frames a live line drew, and what followed the last one, from a terminal's raw output. */
function frames(output: string): { live: string[]; last: string } {
  const chunks = output.split(REDRAW);
  return { live: chunks.slice(1, -1), last: chunks.at(-1) ?? '' };
}

describe('the progress bar', () => {
  it.each([60, 80, 120])('fits a %i-column terminal and redraws in place', async (columns) => {
    const jobId = await started(`a bar at ${columns}`, '--batch-size', '2', '--n-iter', '8', '--steps', '30');
    const watched = await runCliInTerminal(['watch', jobId, '--interval', '0.1'], env, columns);
    expect(watched.code).toBe(0);
    const { live, last } = frames(watched.stdout);
    expect(live.length).toBeGreaterThanOrEqual(2);
    for (const frame of live) {
      // Each frame replaces the one before on the same line, and never reaches the last column.
      expect([...frame].filter((c) => c < ' ')).toEqual([]);
      expect(frame.length).toBeLessThan(columns);
      expect(frame).toMatch(/^\[[#-]+\] \d+\/16 running/);
    }
    expect(last).toMatch(/^\[#+\] 16\/16 completed .*\r\n$/);
    expect(last.length - 2).toBeLessThan(columns);
    // The one newline: after the final line.
    expect(watched.stdout.split('\n')).toHaveLength(2);
    if (columns === 120) expect(live.some((f) => f.includes(' elapsed · '))).toBe(true);
  });

  it('prints one line per change of the finished count when standard output is not a terminal', async () => {
    const jobId = await started('a piped bar', '--batch-size', '2', '--n-iter', '6', '--steps', '30');
    const watched = await sdbatch('watch', jobId, '--interval', '0.1');
    expect(watched.code).toBe(0);
    expect([...watched.stdout].filter((c) => c < ' ' && c !== '\n')).toEqual([]);
    const lines = watched.stdout.trimEnd().split('\n');
    expect(lines.at(-1)).toMatch(/^\[#{24}\] 12\/12 completed · \S+ elapsed$/);
    const counts = lines.slice(0, -1).map((line) => Number(/\] (\d+)\/12 running/.exec(line)?.[1]));
    expect(counts.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < counts.length; i++) expect(counts[i]).toBeGreaterThan(counts[i - 1] as number);
  });
});
