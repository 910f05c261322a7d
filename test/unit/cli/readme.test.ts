import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { authFailure, GatewayHttpError } from '../../../cli/auth-failure.ts';
import { cancelMessage } from '../../../cli/commands/jobs.ts';
import { noImages } from '../../../cli/commands/result.ts';
import { type Connection, DEFAULT_URL, resolveConnection, unreachable } from '../../../cli/connection.ts';
import { createOutput, type Terminal } from '../../../cli/output.ts';
import { statusLine } from '../../../cli/status-line.ts';
import { type PropertySchema, toolArguments } from '../../../cli/tool-flags.ts';
import { commandMisuse, misused, USAGE } from '../../../cli/usage.ts';
import { downloadName } from '../../../core/image-key.ts';
import { StartToolInput } from '../../../mcp-gateway/tools/inputs.ts';

/**
 * What the README shows of the CLI, against what the code prints: each example is made again
 * with the functions that print it, so the README cannot drift from them unnoticed.
 */
const README = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');

/** The README's fenced blocks, as written between the fences. */
const BLOCKS = [...README.matchAll(/^```[a-z]*\n([\s\S]*?)\n```$/gm)].map((m) => m[1] as string);

/** The one block whose first line starts with `start`. */
function block(start: string): string {
  const found = BLOCKS.filter((b) => b.startsWith(start));
  expect(found, `one README block starting with ${start}`).toHaveLength(1);
  return found[0] as string;
}

/** What `misused` writes: the line a user sees for a command line the CLI cannot read. */
function usageLine(message: string): string {
  let written = '';
  const stderr: Terminal = { write: (text: string) => (written += text) };
  misused(createOutput(false, { write: () => true }, stderr), message);
  return written.trimEnd();
}

const HOME = '/home/me';
const DATA_DIR = `${HOME}/sdbatch/.sdbatch`;
const START = (
  z.toJSONSchema(StartToolInput, { io: 'input' }) as { properties: Record<string, PropertySchema> }
).properties;
const wrong = (args: string[]) => {
  const read = toolArguments(args, START);
  if (!('wrong' in read)) throw new Error(`${args.join(' ')} was read`);
  return usageLine(`${read.wrong} (sdbatch start)`);
};

describe('the README', () => {
  it('shows --help as the CLI prints it', () => {
    expect(block('sdbatch: talk to')).toBe(USAGE);
  });

  it("shows the CLI's error lines as it prints them", async () => {
    const noToken = await resolveConnection(
      {},
      { SDBATCH_DATA_DIR: DATA_DIR, XDG_CONFIG_HOME: `${HOME}/.config` },
    ).catch((e: Error) => e.message);
    const kept: Connection = {
      url: DEFAULT_URL,
      token: 'sdb_Q2xpZW50IG5hbWVk',
      urlFrom: `the default URL: no connection.json in ${DATA_DIR}`,
      tokenFrom: { kind: 'kept', file: `${DATA_DIR}/token`, dataDir: DATA_DIR },
    };
    const refused = new Error('Streamable HTTP error', {
      cause: Object.assign(
        new Error(
          'Error POSTing to endpoint: {"error":"unauthorized","error_description":"A valid bearer token is required."}',
        ),
        { code: 401 },
      ),
    });
    const forbidden = new GatewayHttpError(
      403,
      { error: 'forbidden', error_description: 'Only the admin token may manage tokens.' },
      'Forbidden',
    );
    const refusedConnection = new TypeError('fetch failed', {
      cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8787'), { code: 'ECONNREFUSED' }),
    });
    expect(block('error: ').split('\n')).toEqual([
      `error: ${noToken}`,
      `error: ${unreachable(refusedConnection, kept)}`,
      `error: ${authFailure(refused, kept, 'run sdbatch list')}`,
      `error: ${authFailure(forbidden, { ...kept, tokenFrom: { kind: 'flag', dataDir: DATA_DIR } }, 'manage tokens')}`,
      wrong(['--batch-sise', '2']),
      wrong(['a cat', '--n-iter']),
      wrong(['a cat', '--batch-size', 'two']),
      usageLine(commandMisuse('stauts', []) as string),
    ]);
  });

  it('names the downloaded files as result --download does', () => {
    const names = /names them `([^`]+)`, `([^`]+)`/.exec(README);
    expect(names?.slice(1)).toEqual([
      downloadName({ iteration: 0, index: 0, seed: 1234, key: 'jobs/x/000-0.png' }),
      downloadName({ iteration: 0, index: 1, seed: 1235, key: 'jobs/x/000-1.png' }),
    ]);
  });

  it('shows what cancel and result say as they say it', () => {
    const job = 'job_20261124_qefcd2kzro';
    expect(block(`${job} cancelled`)).toBe(
      cancelMessage({
        job_id: job,
        status: 'cancelled',
        cancelled: true,
        completed_images: 4,
        still_finishing_images: 2,
        message: '',
      }),
    );
    expect(README).toContain(`it says\n\`${noImages('cancelled')}\` (\`${noImages('running')}\` only`);
  });

  it("shows watch's line at 60 columns as it is drawn there", () => {
    const line = /In a 60-column terminal a line of it reads\n`([^`]+)`/.exec(README)?.[1];
    const status = {
      job_id: 'job_20261124_qefcd2kzro',
      status: 'running' as const,
      completed_images: 0,
      failed_images: 0,
      total_images: 12,
      progress: '0/12 images completed',
      elapsed_time: '2s',
      elapsed_seconds: 2,
      estimated_remaining: '12s',
      estimated_remaining_seconds: 12,
      current: { iteration: 1, step: 8, steps: 20 },
      poll_after_seconds: 1,
    };
    // The last column stays empty (output.ts): 59 of the 60 are drawn.
    expect(line).toBe(statusLine(status, 12, 59));
  });
});
