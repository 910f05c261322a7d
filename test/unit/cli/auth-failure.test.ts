import { mkdir, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { authFailure, GatewayHttpError } from '../../../cli/auth-failure.ts';
import { resolveConnection } from '../../../cli/connection.ts';
import { writeConnectionFile } from '../../../local/connection-file.ts';
import { tempDir } from '../../support/temp-dir.ts';

let dir: Awaited<ReturnType<typeof tempDir>>;
let dataDir: string;
let env: Record<string, string>;

const URL_ = 'http://127.0.0.1:41234/mcp';
const STALE = 'sdb_StaleStaleStaleStaleStaleStale';
/** What the MCP SDK throws when the gateway answers 401 (mcp-gateway/auth/middleware.ts). */
const REFUSED = new StreamableHTTPError(
  401,
  'Error POSTing to endpoint: {"error":"unauthorized","error_description":"A valid bearer token is required."}',
);

beforeEach(async () => {
  dir = await tempDir();
  dataDir = join(dir.path, 'data');
  await mkdir(dataDir);
  env = { SDBATCH_DATA_DIR: dataDir, XDG_CONFIG_HOME: join(dir.path, 'config') };
});
afterEach(() => dir.remove());

describe('authFailure', () => {
  it('says which token was refused, where it came from and what to do, for each place a token comes from', async () => {
    const said = async (flags: { url?: string; token?: string }, more: Record<string, string> = {}) =>
      authFailure(REFUSED, await resolveConnection(flags, { ...env, ...more }), 'run sdbatch list');
    const refused = `${URL_} refused the token sdb_Stal… (`;
    const why =
      "): 401 unauthorized: A valid bearer token is required. It may be revoked or another gateway's; ";

    expect(await said({ url: URL_, token: STALE })).toBe(
      `${refused}given by --token${why}pass the token this gateway gave (npm start prints it; a named one from sdbatch token create)`,
    );
    expect(await said({}, { SDBATCH_URL: URL_, SDBATCH_TOKEN: STALE })).toBe(
      `${refused}from SDBATCH_TOKEN${why}unset SDBATCH_TOKEN or set it to a token this gateway knows`,
    );
    await writeConnectionFile(dataDir, { url: URL_, token: STALE });
    expect(await said({})).toBe(
      `${refused}read from ${join(dataDir, 'connection.json')}, the stack's connection file${why}the stack that wrote it is gone or was started again with another token: start it again with npm start, or pass --token`,
    );
    const other = join(dir.path, 'other');
    await mkdir(join(dir.path, 'config', 'sdbatch'), { recursive: true });
    const config = join(dir.path, 'config', 'sdbatch', 'config.json');
    await writeFile(config, JSON.stringify({ url: URL_, token: STALE }));
    expect(await said({}, { SDBATCH_DATA_DIR: other })).toBe(
      `${refused}read from ${config}${why}put a token this gateway knows in ${config} (a named token may have been revoked: ask for a new one)`,
    );
    // The case: a stack runs on another data dir, and ./.sdbatch holds an old stack's token.
    await mkdir(other);
    await writeFile(join(other, 'token'), `${STALE}\n`);
    await unlink(config);
    expect(await said({}, { SDBATCH_DATA_DIR: other, SDBATCH_URL: URL_ })).toBe(
      `${refused}read from ${join(other, 'token')}, the token kept in the data dir ${other} (no connection.json there: no stack of that data dir is running)${why}the stack listening there was started with another SDBATCH_DATA_DIR: run with that SDBATCH_DATA_DIR, or pass --token`,
    );
  });

  it("names the data dir's own stack when the kept token went to another URL", async () => {
    await writeConnectionFile(dataDir, {
      url: 'http://127.0.0.1:41999/mcp',
      token: 'sdb_OfTheOtherStackOfTheOtherStack',
    });
    await writeFile(join(dataDir, 'token'), `${STALE}\n`);
    const connection = await resolveConnection({ url: URL_ }, env);
    expect(authFailure(REFUSED, connection, 'run sdbatch list')).toBe(
      `${URL_} refused the token sdb_Stal… (read from ${join(dataDir, 'token')}, the token kept in the data dir ${dataDir} (whose stack is at http://127.0.0.1:41999/mcp)): 401 unauthorized: A valid bearer token is required. It may be revoked or another gateway's; that data dir's stack is at http://127.0.0.1:41999/mcp: leave out --url and SDBATCH_URL, or pass --token`,
    );
  });

  it('says what a 403 token may not do, and leaves other errors alone', async () => {
    const connection = await resolveConnection({ url: URL_, token: STALE }, env);
    const forbidden = new GatewayHttpError(
      403,
      { error: 'forbidden', error_description: 'Only the admin token may manage tokens.' },
      'Forbidden',
    );
    expect(authFailure(forbidden, connection, 'manage tokens')).toBe(
      `${URL_} does not let the token sdb_Stal… (given by --token) manage tokens: 403 forbidden: Only the admin token may manage tokens. Use a token that may (the admin token manages tokens: the one npm start keeps in its data dir, or a deployed gateway's from its TokenCommand)`,
    );
    // A 403 for the host header is not the token's doing.
    const host = new StreamableHTTPError(403, 'Error POSTing to endpoint: {"error":"forbidden host"}');
    expect(authFailure(host, connection, 'run sdbatch list')).toBeUndefined();
    expect(authFailure(new Error('boom'), connection, 'run sdbatch list')).toBeUndefined();
    expect(authFailure(new Error('wrapped', { cause: REFUSED }), connection, 'run sdbatch list')).toMatch(
      /refused the token sdb_Stal… \(given by --token\): 401/,
    );
  });
});
