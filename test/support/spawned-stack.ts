import { type ChildProcess, spawn } from 'node:child_process';
import { sleep } from './embedded.ts';

/** The repository's root, where `npm start` runs. */
export const REPO = new URL('../..', import.meta.url).pathname;
/** `npm start`'s script file. */
export const MAIN = new URL('../../local/main.ts', import.meta.url).pathname;

/** A stack in a child process, with what it printed so far. */
export interface SpawnedStack {
  child: ChildProcess;
  mcpUrl: string;
  token: string;
  sdWebUiUrl: string;
  stdout: () => string;
  stderr: () => string;
}

/** The test's environment with `env` set and nothing inherited that could point a stack at another GPU host or data dir. */
export function stackEnv(env: Record<string, string>): Record<string, string> {
  const inherited: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !name.startsWith('SDBATCH_') && name !== 'SD_WEBUI_URL')
      inherited[name] = value;
  }
  return { ...inherited, ...env };
}

/** Runs `command` in the repository and collects its output as text. */
export function spawnInRepo(
  command: string,
  args: string[],
  env: Record<string, string>,
): { child: ChildProcess; stdout: () => string; stderr: () => string } {
  const child = spawn(command, args, { cwd: REPO, env: stackEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk;
  });
  return { child, stdout: () => out, stderr: () => err };
}

/** Starts a stack with `command` and waits until it prints that it is running and where. */
export async function spawnStack(
  command: string,
  args: string[],
  env: Record<string, string>,
): Promise<SpawnedStack> {
  const { child, stdout, stderr } = spawnInRepo(command, args, env);
  const deadline = Date.now() + 30_000;
  while (!stdout().includes('Ctrl-C stops it')) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `sdbatch exited early (${child.exitCode ?? child.signalCode}):\n${stdout()}\n${stderr()}`,
      );
    }
    if (Date.now() > deadline) throw new Error(`sdbatch did not start in 30 s:\n${stdout()}\n${stderr()}`);
    await sleep(20);
  }
  const out = stdout();
  const mcpUrl = /MCP URL:\s+(http:\/\/\S+\/mcp)/.exec(out)?.[1];
  const token = /Token:\s+(\S+)/.exec(out)?.[1];
  const sdWebUiUrl = /SD WebUI:\s+(http:\/\/\S+)/.exec(out)?.[1];
  if (!mcpUrl || !token || !sdWebUiUrl) throw new Error(`cannot read the URL and token from:\n${out}`);
  return { child, mcpUrl, token, sdWebUiUrl, stdout, stderr };
}

/** The child's exit code, or its signal's name, once it has exited. */
export function exited(child: ChildProcess): Promise<number | string> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve(child.exitCode ?? (child.signalCode as string));
  }
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal as string))));
}
