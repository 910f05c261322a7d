import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { REPO, stackEnv } from './spawned-stack.ts';

const run = promisify(execFile);

/** The CLI's script, as its bin runs it. */
export const CLI = new URL('../../cli/sdbatch.ts', import.meta.url).pathname;

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * `sdbatch ARGS` as a user runs it: a process of its own, in `cwd`, with `env` and none of the
 * test runner's SDBATCH_* settings.
 */
export function runCli(
  args: string[],
  env: Record<string, string>,
  { cwd = REPO }: { cwd?: string } = {},
): Promise<CliRun> {
  return captured(process.execPath, [CLI, ...args], env, cwd);
}

/**
 * `sdbatch ARGS` on a pseudo-terminal of `columns` columns (util-linux `script`), as in a
 * terminal window of that width: what it wrote, as the terminal received it.
 */
export function runCliInTerminal(
  args: string[],
  env: Record<string, string>,
  columns: number,
): Promise<CliRun> {
  const quoted = [process.execPath, CLI, ...args].map((a) => `'${a.replaceAll("'", `'\\''`)}'`).join(' ');
  return captured(
    'script',
    ['-qfec', `stty cols ${columns} rows 24 && exec ${quoted}`, '/dev/null'],
    env,
    REPO,
  );
}

/** A command's exit code and output, with `env` over the test's own less SDBATCH_*; ended after a minute. */
export async function captured(
  command: string,
  args: string[],
  env: Record<string, string>,
  cwd: string,
): Promise<CliRun> {
  try {
    const { stdout, stderr } = await run(command, args, { cwd, env: stackEnv(env), timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
