#!/usr/bin/env node
import { unknownName } from '../core/params/unknown-name.ts';
import type { Connection } from './connection.ts';
import type { McpSession } from './mcp-session.ts';
import { createOutput, type Output } from './output.ts';
import { GLOBAL_FLAGS, misused } from './usage.ts';

const USAGE = `sdbatch: talk to an sdbatch gateway (the embedded one from npm start, or a deployed one)

  sdbatch start "PROMPT" [--batch-size 4 --n-iter 3 --preset NAME --any_tool_argument VALUE]
  sdbatch status JOB_ID            one line: progress, step, elapsed, ETA
  sdbatch watch JOB_ID [--interval SECONDS]   a live progress bar until the job ends
  sdbatch result JOB_ID [--download DIR]   URLs, or the images (parallel, resumable)
  sdbatch cancel JOB_ID
  sdbatch list [--status running --limit 20 --cursor C]
  sdbatch presets
  sdbatch token create NAME | token list | token revoke NAME   manage named tokens (admin token)

Options: --url URL, --token TOKEN, --json. Without --url/--token: $SDBATCH_URL/$SDBATCH_TOKEN,
then the running stack's connection.json in $SDBATCH_DATA_DIR (default ./.sdbatch), then
~/.config/sdbatch/config.json ({"url", "token"}), then http://127.0.0.1:8787/mcp.
Exit codes: 0 success (job completed), 1 error, 2 usage, 3 job partial, 4 job failed,
5 job cancelled, 6 job still running.`;

// The global options are taken out first; everything else goes to the command untouched.
const GLOBAL = new Set(['--url', '--token']);
const argv = process.argv.slice(2);
const flags: { url?: string; token?: string } = {};
const rest: string[] = [];
let json = false;
let help = false;
let valueless: string | undefined;
for (let i = 0; i < argv.length; i++) {
  const arg = argv[i] as string;
  if (GLOBAL.has(arg)) {
    const value = argv[++i];
    if (value === undefined || value.startsWith('--')) valueless ??= arg;
    flags[arg.slice(2) as 'url' | 'token'] = value;
  } else if (arg === '--json') json = true;
  else if (arg === '--help' || arg === '-h') help = true;
  else rest.push(arg);
}
const [command, ...commandArgs] = rest;

type Command = (args: string[], connection: Connection, out: Output) => Promise<number>;
type McpCommand = (args: string[], mcp: McpSession, out: Output) => Promise<number>;

// Loaded only to run: --help and a mistyped command answer before the MCP SDK is read.
const jobs = () => import('./commands/jobs.ts');
const COMMANDS: Record<string, () => Promise<Command>> = {
  start: async () => withSession((await jobs()).startCommand),
  status: async () => withSession((await jobs()).statusCommand),
  watch: async () => withSession((await jobs()).watchCommand),
  result: async () => withSession((await import('./commands/result.ts')).resultCommand),
  cancel: async () => withSession((await jobs()).cancelCommand),
  list: async () => withSession((await jobs()).listCommand),
  presets: async () => withSession((await jobs()).presetsCommand),
  token: async () => (await import('./commands/token.ts')).tokenCommand,
};
const out = createOutput(json);

/**
 * The flags each command reads. `start` and `list` pass theirs to the tool as arguments, and
 * check them against the tool's input schema once connected.
 */
const FLAGS: Record<string, string[] | 'tool'> = {
  start: 'tool',
  list: 'tool',
  status: [],
  watch: ['--interval'],
  cancel: [],
  presets: [],
  result: ['--download'],
  token: [],
};

/** Why the command line cannot be run as typed, or undefined. */
function misuse(): string | undefined {
  if (valueless) return `${valueless} needs a value`;
  if (command === undefined) return undefined;
  if (!(command in FLAGS)) {
    const unknown = unknownName('command', command, Object.keys(FLAGS));
    // Far from every command, the list is the nearest help.
    return unknown.includes('did you mean')
      ? unknown
      : `${unknown}; the commands are ${Object.keys(FLAGS).join(', ')}`;
  }
  const known = FLAGS[command];
  if (known === 'tool') return undefined;
  const flag = commandArgs.find((a) => a.startsWith('-') && !known?.includes(a.split('=')[0] as string));
  // The global flags were taken out already: a slip of one of them is named too.
  const all = [...(known ?? []), ...GLOBAL_FLAGS];
  return flag === undefined ? undefined : `${unknownName('flag', flag, all)} (sdbatch ${command})`;
}

function withSession(command: McpCommand): Command {
  return async (args, connection, output) => {
    const { McpSession } = await import('./mcp-session.ts');
    const mcp = new McpSession(connection);
    await mcp.open();
    try {
      return await command(args, mcp, output);
    } finally {
      await mcp.close();
    }
  };
}

const wrong = help ? undefined : misuse();
if (wrong) {
  process.exitCode = misused(out, wrong);
} else if (help || command === undefined) {
  console.log(USAGE);
  process.exitCode = help ? 0 : 2;
} else {
  const { resolveConnection, unreachable } = await import('./connection.ts');
  let connection: Connection | undefined;
  try {
    const run = await (COMMANDS[command] as () => Promise<Command>)();
    connection = await resolveConnection(flags);
    process.exitCode = await run(commandArgs, connection, out);
  } catch (error) {
    out.error((connection && unreachable(error, connection)) ?? (error as Error).message);
    process.exitCode = 1;
  }
}
