import { parseArgs } from 'node:util';
import type { Output } from './output.ts';

/** Flags every command takes; sdbatch.ts takes them out before a command sees its arguments. */
export const GLOBAL_FLAGS = ['--url', '--token', '--json', '--help'];

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
