import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { unknownName } from '../core/params/unknown-name.ts';
import type { Output } from './output.ts';
import { toolArguments } from './tool-flags.ts';
import { isToolCommand, toolProperties } from './tool-schemas.ts';

/** What --help and `sdbatch help` print (the README shows it; test/unit/cli/readme.test.ts compares). */
export const USAGE = `sdbatch: talk to an sdbatch gateway (the embedded one from npm start, or a deployed one)

  sdbatch start "PROMPT" [--batch-size 4 --n-iter 3 --preset NAME --any_tool_argument VALUE]
  sdbatch status JOB_ID            one line: progress, step, elapsed, ETA
  sdbatch watch JOB_ID [--interval SECONDS]   a live progress bar until the job ends
  sdbatch result JOB_ID [--download DIR]   URLs, or the images (parallel, resumable)
  sdbatch cancel JOB_ID
  sdbatch list [--status running --limit 20 --cursor C]
  sdbatch presets
  sdbatch token create NAME | token list | token revoke NAME   manage named tokens (admin token)
  sdbatch help | sdbatch --version

Options: --url URL, --token TOKEN, --json. Without --url/--token: $SDBATCH_URL/$SDBATCH_TOKEN,
then the running stack's connection.json in $SDBATCH_DATA_DIR (default ./.sdbatch), then
~/.config/sdbatch/config.json ({"url", "token"}), then http://127.0.0.1:8787/mcp.
Exit codes: 0 success (job completed), 1 error, 2 usage, 3 job partial, 4 job failed,
5 job cancelled, 6 job still running.`;

/** The project's version, from its package.json. */
export function version(): string {
  const text = readFileSync(new URL('../package.json', import.meta.url), 'utf8');
  return (JSON.parse(text) as { version: string }).version;
}

/** Flags every command takes; sdbatch.ts takes them out before a command sees its arguments. */
export const GLOBAL_FLAGS = ['--url', '--token', '--json', '--help', '--version'];

/** A command line that cannot run as typed: one line naming the slip, and exit code 2. */
export function misused(out: Output, message: string): number {
  out.error(`${message}; sdbatch --help lists the commands and their flags`);
  return 2;
}

/** A command's positionals and its one option with a value, or why they cannot be read. */
export function withOption<Name extends string>(
  command: string,
  args: string[],
  name: Name,
): { value: string | undefined; positionals: string[] } | { wrong: string } {
  try {
    const { values, positionals } = parseArgs({
      args,
      options: { [name]: { type: 'string' } },
      allowPositionals: true,
    });
    return { value: values[name] as string | undefined, positionals };
  } catch (error) {
    return { wrong: `${(error as Error).message} (sdbatch ${command})` };
  }
}

/**
 * The flags each command reads. `start` and `list` pass theirs to the tool as arguments, read
 * and checked against the tool's input schema before connecting (tool-schemas.ts).
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

/** Why a command and its arguments cannot be run as typed ("unknown command stauts; …"), or undefined. */
export function commandMisuse(command: string, args: string[]): string | undefined {
  if (!(command in FLAGS)) {
    const unknown = unknownName('command', command, [...Object.keys(FLAGS), 'help', 'version']);
    // Far from every command, the list is the nearest help.
    return unknown.includes('did you mean')
      ? unknown
      : `${unknown}; the commands are ${Object.keys(FLAGS).join(', ')}`;
  }
  const known = FLAGS[command];
  if (isToolCommand(command)) {
    const read = toolArguments(args, toolProperties(command));
    return 'wrong' in read ? `${read.wrong} (sdbatch ${command})` : undefined;
  }
  const flag = args.find((a) => a.startsWith('-') && !known?.includes(a.split('=')[0] as string));
  // The global flags were taken out already: a slip of one of them is named too.
  const all = [...(known ?? []), ...GLOBAL_FLAGS];
  return flag === undefined ? undefined : `${unknownName('flag', flag, all)} (sdbatch ${command})`;
}
