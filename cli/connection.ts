import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface Connection {
  /** The gateway's MCP URL, e.g. http://127.0.0.1:8787/mcp or a Function URL + /mcp. */
  url: string;
  token: string;
}

export const DEFAULT_URL = 'http://127.0.0.1:8787/mcp';

async function readJson(path: string): Promise<Record<string, unknown>> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  } catch {
    return {};
  }
}

/**
 * Where to connect and with which token: flags, then SDBATCH_URL / SDBATCH_TOKEN, then
 * ~/.config/sdbatch/config.json, then the embedded stack's own token file in ./.sdbatch.
 */
export async function resolveConnection(
  flags: { url?: string; token?: string },
  env = process.env,
): Promise<Connection> {
  const file = await readJson(
    join(env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'sdbatch', 'config.json'),
  );
  const url = flags.url ?? env.SDBATCH_URL ?? (file.url as string | undefined) ?? DEFAULT_URL;
  let token = flags.token ?? env.SDBATCH_TOKEN ?? (file.token as string | undefined);
  if (!token) {
    const dataDir = env.SDBATCH_DATA_DIR ?? './.sdbatch';
    token = (await readFile(join(dataDir, 'token'), 'utf8').catch(() => '')).trim() || undefined;
  }
  if (!token) {
    throw new Error(
      'No token: pass --token, set SDBATCH_TOKEN, or put {"url", "token"} in ~/.config/sdbatch/config.json',
    );
  }
  return { url, token };
}
