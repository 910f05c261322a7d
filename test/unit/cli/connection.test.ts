import { mkdir, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveConnection, unreachable } from '../../../cli/connection.ts';
import { clientUrl, removeConnectionFile, writeConnectionFile } from '../../../local/connection-file.ts';
import { tempDir } from '../../support/temp-dir.ts';

let dir: Awaited<ReturnType<typeof tempDir>>;
let dataDir: string;
let env: Record<string, string>;

const LOCAL = { url: 'http://127.0.0.1:41234/mcp', token: 'sdb_from_the_running_stack' };

async function writeConfig(content: unknown): Promise<void> {
  await mkdir(join(dir.path, 'config', 'sdbatch'), { recursive: true });
  await writeFile(
    join(dir.path, 'config', 'sdbatch', 'config.json'),
    typeof content === 'string' ? content : JSON.stringify(content),
  );
}

beforeEach(async () => {
  dir = await tempDir();
  dataDir = join(dir.path, 'data');
  await mkdir(dataDir);
  env = { SDBATCH_DATA_DIR: dataDir, XDG_CONFIG_HOME: join(dir.path, 'config') };
});
afterEach(() => dir.remove());

describe("the stack's connection file", () => {
  it('holds the URL and token, for the user only, and is gone once removed', async () => {
    await writeConnectionFile(dataDir, LOCAL);
    const file = join(dataDir, 'connection.json');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await resolveConnection({}, env)).toMatchObject(LOCAL);
    await removeConnectionFile(dataDir);
    await expect(stat(file)).rejects.toMatchObject({ code: 'ENOENT' });
    // Removing it twice (a stop after a failed start) is no error.
    await removeConnectionFile(dataDir);
  });

  it('names a loopback address for a stack bound to every interface', () => {
    expect(clientUrl('http://0.0.0.0:8787/mcp')).toBe('http://127.0.0.1:8787/mcp');
    expect(clientUrl('http://[::]:8787/mcp')).toBe('http://[::1]:8787/mcp');
    expect(clientUrl('http://192.0.2.7:8787/mcp')).toBe('http://192.0.2.7:8787/mcp');
  });
});

describe('resolveConnection', () => {
  it('takes flags, then SDBATCH_URL / SDBATCH_TOKEN, then the data dir, then the config file', async () => {
    await writeConnectionFile(dataDir, LOCAL);
    await writeConfig({ url: 'https://gpu.example.com/mcp', token: 'sdb_config' });
    expect(await resolveConnection({}, env)).toEqual({
      ...LOCAL,
      urlFrom: `URL read from ${join(dataDir, 'connection.json')}`,
      tokenFrom: { kind: 'stack', file: join(dataDir, 'connection.json'), dataDir },
    });
    expect(
      await resolveConnection({}, { ...env, SDBATCH_URL: LOCAL.url, SDBATCH_TOKEN: 'sdb_env' }),
    ).toMatchObject({
      url: LOCAL.url,
      token: 'sdb_env',
      urlFrom: 'URL given by SDBATCH_URL',
      tokenFrom: { kind: 'env', dataDir },
    });
    expect(
      await resolveConnection(
        { url: 'http://127.0.0.1:9/mcp', token: 'sdb_flag' },
        { ...env, SDBATCH_TOKEN: 'sdb_env' },
      ),
    ).toMatchObject({
      url: 'http://127.0.0.1:9/mcp',
      token: 'sdb_flag',
      urlFrom: 'URL given by --url',
      tokenFrom: { kind: 'flag', dataDir },
    });
    await removeConnectionFile(dataDir);
    expect(await resolveConnection({}, env)).toMatchObject({
      url: 'https://gpu.example.com/mcp',
      token: 'sdb_config',
      tokenFrom: { kind: 'config', file: join(dir.path, 'config', 'sdbatch', 'config.json'), dataDir },
    });
  });

  it("never sends a file's token to another server's URL", async () => {
    await writeConnectionFile(dataDir, LOCAL);
    await expect(resolveConnection({ url: 'https://elsewhere.example.com/mcp' }, env)).rejects.toThrow(
      /^no token for https:\/\/elsewhere\.example\.com\/mcp; looked at --url\/--token, SDBATCH_URL\/SDBATCH_TOKEN, .*connection\.json, .*config\.json \(not there\), .*token\. /,
    );
    // The same URL as the file's: its token goes with it.
    expect(await resolveConnection({ url: LOCAL.url }, env)).toMatchObject(LOCAL);
  });

  it("falls back to the default URL with the stopped stack's kept token, and says so", async () => {
    await writeFile(join(dataDir, 'token'), 'sdb_kept\n');
    expect(await resolveConnection({}, env)).toEqual({
      url: 'http://127.0.0.1:8787/mcp',
      token: 'sdb_kept',
      urlFrom: `the default URL: no connection.json in ${dataDir}`,
      tokenFrom: { kind: 'kept', file: join(dataDir, 'token'), dataDir },
    });
  });

  it('lists every place it looked when no token is anywhere', async () => {
    await expect(resolveConnection({}, env)).rejects.toThrow(
      `no token for http://127.0.0.1:8787/mcp; looked at --url/--token, SDBATCH_URL/SDBATCH_TOKEN, ${dataDir}/connection.json (not there), ${dir.path}/config/sdbatch/config.json (not there), ${dataDir}/token. Start the stack with npm start (with the same SDBATCH_DATA_DIR), or pass --token`,
    );
  });

  it('refuses a broken file or URL, naming it', async () => {
    await writeConfig('{"url": ');
    await expect(resolveConnection({}, env)).rejects.toThrow(
      `${dir.path}/config/sdbatch/config.json is not JSON; it should be {"url": "...", "token": "..."}`,
    );
    await writeConfig({ url: 'ftp://files.example.com', token: 'x' });
    await expect(resolveConnection({}, env)).rejects.toThrow(
      `${dir.path}/config/sdbatch/config.json: url must be an http(s) URL`,
    );
    await expect(resolveConnection({ url: 'localhost:8787' }, env)).rejects.toThrow(
      '--url/--token: localhost:8787 is not an http(s) URL (e.g. http://127.0.0.1:8787/mcp)',
    );
  });
});

describe('unreachable', () => {
  const FLAG = { kind: 'flag', dataDir: '/nowhere' } as const;
  /** A loopback port that was free a moment ago: nothing listens there. */
  async function closedPort(): Promise<number> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    await new Promise((resolve) => server.close(resolve));
    return port;
  }

  it('names the URL, the cause and where the URL came from, from what fetch threw', async () => {
    const url = `http://127.0.0.1:${await closedPort()}/mcp`;
    const error = await fetch(url).catch((e: unknown) => e);
    expect(unreachable(error, { url, token: 't', urlFrom: 'URL given by --url', tokenFrom: FLAG })).toBe(
      `nothing is listening at ${url} (ECONNREFUSED; URL given by --url) — is \`npm start\` running (with the same SDBATCH_DATA_DIR)?`,
    );
  });

  it('gives a remote URL no hint about npm start, and leaves other errors alone', async () => {
    const url = 'http://sdbatch.invalid/mcp';
    const error = await fetch(url).catch((e: unknown) => e);
    expect(
      unreachable(error, { url, token: 't', urlFrom: 'URL given by SDBATCH_URL', tokenFrom: FLAG }),
    ).toMatch(
      /^cannot find the host of http:\/\/sdbatch\.invalid\/mcp \((ENOTFOUND|EAI_AGAIN); URL given by SDBATCH_URL\)$/,
    );
    expect(
      unreachable(new Error('401: unauthorized'), { url, token: 't', urlFrom: '', tokenFrom: FLAG }),
    ).toBeUndefined();
  });
});
