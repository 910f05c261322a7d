import { execFile } from 'node:child_process';
import { readdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPng } from '../../local/simulator/png.ts';
import type { EmbeddedStack } from '../../local/stack.ts';
import { startTestStack } from '../support/embedded.ts';
import { tempDir } from '../support/temp-dir.ts';

const run = promisify(execFile);
let dir: Awaited<ReturnType<typeof tempDir>>;
let stack: EmbeddedStack;

/** `sdbatch ...` as a user runs it: a separate process, configured by SDBATCH_URL and SDBATCH_TOKEN. */
async function sdbatch(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['cli/sdbatch.ts', ...args], {
      env: { ...process.env, SDBATCH_URL: stack.mcpUrl, SDBATCH_TOKEN: stack.token },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

beforeAll(async () => {
  dir = await tempDir();
  stack = await startTestStack(join(dir.path, 'data'), { SDBATCH_SIM_STEP_MS: '5' });
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
    const names = (await readdir(target)).sort();
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
    expect((await sdbatch('bogus')).code).toBe(2);
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
    expect(argument.code).toBe(1);
    expect(argument.stderr).toMatch(/unknown argument batch_sise; did you mean batch_size\?/);
    const after = (
      JSON.parse((await sdbatch('list', '--json', '--limit', '100')).stdout) as { jobs: unknown[] }
    ).jobs.length;
    expect(after).toBe(before);
  });
});
