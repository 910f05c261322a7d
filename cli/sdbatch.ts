#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { tokenCommand } from './commands/token.ts';
import { resolveConnection } from './connection.ts';
import { createOutput } from './output.ts';

const USAGE = `sdbatch: talk to an sdbatch gateway (the embedded one from npm start, or a deployed one)

  sdbatch token create NAME | token list | token revoke NAME   manage named tokens (admin token)

Options: --url URL (default $SDBATCH_URL or http://127.0.0.1:8787/mcp), --token TOKEN
(default $SDBATCH_TOKEN, ~/.config/sdbatch/config.json, or ./.sdbatch/token), --json.
Exit codes: 0 success, 1 failure, 2 usage.`;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  strict: false,
  options: {
    url: { type: 'string' },
    token: { type: 'string' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

const out = createOutput(values.json === true);
const [command, ...rest] = positionals;
const commands: Record<string, typeof tokenCommand> = { token: tokenCommand };
const run = command ? commands[command] : undefined;

if (values.help || !run) {
  console.log(USAGE);
  process.exitCode = values.help ? 0 : 2;
} else {
  try {
    const connection = await resolveConnection({
      url: values.url as string | undefined,
      token: values.token as string | undefined,
    });
    process.exitCode = await run(rest, connection, out);
  } catch (error) {
    out.error((error as Error).message);
    process.exitCode = 1;
  }
}
