#!/usr/bin/env node
import type { Connection } from './connection.ts';
import type { McpSession } from './mcp-session.ts';
import { createOutput, type Output } from './output.ts';
import { commandMisuse, misused, USAGE, version } from './usage.ts';

// The global options are taken out first; everything else goes to the command untouched.
const GLOBAL = new Set(['--url', '--token']);
const argv = process.argv.slice(2);
const flags: { url?: string; token?: string } = {};
const rest: string[] = [];
let json = false;
let help = false;
let shown: 'version' | undefined;
let valueless: string | undefined;
for (let i = 0; i < argv.length; i++) {
  const arg = argv[i] as string;
  if (GLOBAL.has(arg)) {
    const value = argv[++i];
    if (value === undefined || value.startsWith('--')) valueless ??= arg;
    flags[arg.slice(2) as 'url' | 'token'] = value;
  } else if (arg === '--json') json = true;
  else if (arg === '--help' || arg === '-h') help = true;
  else if (arg === '--version' || arg === '-V') shown = 'version';
  else rest.push(arg);
}
const [command, ...commandArgs] = rest;
// `sdbatch help` and `sdbatch version` read as the flags do.
if (command === 'help') help = true;
if (command === 'version') shown = 'version';

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

/** Why the command line cannot be run as typed, or undefined. */
function misuse(): string | undefined {
  if (valueless) return `${valueless} needs a value`;
  return command === undefined ? undefined : commandMisuse(command, commandArgs);
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

const wrong = help || shown ? undefined : misuse();
if (shown === 'version' && !help) {
  out.result({ version: version() }, `sdbatch ${version()}`);
} else if (wrong) {
  process.exitCode = misused(out, wrong);
} else if (help || command === undefined) {
  console.log(USAGE);
  process.exitCode = help ? 0 : 2;
} else {
  const { resolveConnection, unreachable } = await import('./connection.ts');
  const { authFailure } = await import('./auth-failure.ts');
  let connection: Connection | undefined;
  try {
    const run = await (COMMANDS[command] as () => Promise<Command>)();
    connection = await resolveConnection(flags);
    process.exitCode = await run(commandArgs, connection, out);
  } catch (error) {
    const action = command === 'token' ? 'manage tokens' : `run sdbatch ${command}`;
    const explained =
      connection && (authFailure(error, connection, action) ?? unreachable(error, connection));
    out.error(explained ?? (error as Error).message);
    process.exitCode = 1;
  }
}
