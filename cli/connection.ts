import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { CONNECTION_FILE } from '../local/connection-file.ts';

export interface Connection {
  /** The gateway's MCP URL, e.g. http://127.0.0.1:8787/mcp or a Function URL + /mcp. */
  url: string;
  token: string;
  /** Where the URL came from, for messages: "URL given by --url", "URL read from FILE", ... */
  urlFrom: string;
  /** Where the token came from, for an authentication failure's message. */
  tokenFrom: TokenSource;
}

/** The place a token was found: its kind, the file (for files) and the data dir it belongs to. */
export interface TokenSource {
  kind: 'flag' | 'env' | 'stack' | 'config' | 'kept';
  file?: string;
  dataDir: string;
  /** For the kept token: the URL the data dir's connection.json names, when one is there. */
  stackUrl?: string;
}

export const DEFAULT_URL = 'http://127.0.0.1:8787/mcp';

/** One place a URL or token can come from; a file's token belongs to its URL. */
interface Place {
  name: string;
  kind: TokenSource['kind'];
  /** How the URL's origin reads in a message. */
  urlFrom: string;
  url?: string;
  token?: string;
  /** Why the place gave nothing, for the error that lists where the CLI looked. */
  missing?: string;
}

const FileContent = z.object({
  url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
  token: z.string().min(1, 'must not be empty').optional(),
});

/** A JSON file of {url, token}, or nothing when it is not there; anything else is an error naming the file. */
async function readPlace(path: string, shown: string, kind: 'stack' | 'config'): Promise<Place> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return { name: shown, kind, urlFrom: '', missing: 'not there' };
    }
    throw new Error(`cannot read ${shown}: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`${shown} is not JSON; it should be {"url": "...", "token": "..."}`);
  }
  const parsed = FileContent.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${shown}: ${issue?.path.join('.') || 'content'} ${issue?.message}`);
  }
  return { name: shown, kind, urlFrom: `URL read from ${shown}`, ...parsed.data };
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/i;

const isHttpUrl = (text: string) => URL.canParse(text) && /^https?:$/.test(new URL(text).protocol);

/**
 * Where to connect and with which token, first found first: --url/--token, SDBATCH_URL /
 * SDBATCH_TOKEN, the running stack's connection.json in the data dir (SDBATCH_DATA_DIR or
 * ./.sdbatch), ~/.config/sdbatch/config.json, then the default URL with the data dir's kept
 * token. A file is read only when the places before it did not answer.
 */
export async function resolveConnection(
  flags: { url?: string; token?: string },
  env: Record<string, string | undefined> = process.env,
): Promise<Connection> {
  const dataDir = env.SDBATCH_DATA_DIR || './.sdbatch';
  const stackFile = resolve(dataDir, CONNECTION_FILE);
  const configFile = join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'sdbatch', 'config.json');
  const given: Place[] = [
    {
      name: '--url/--token',
      kind: 'flag',
      urlFrom: 'URL given by --url',
      url: flags.url,
      token: flags.token,
    },
    {
      name: 'SDBATCH_URL/SDBATCH_TOKEN',
      kind: 'env',
      urlFrom: 'URL given by SDBATCH_URL',
      url: env.SDBATCH_URL || undefined,
      token: env.SDBATCH_TOKEN || undefined,
    },
  ];
  for (const place of given) {
    if (place.url !== undefined && !isHttpUrl(place.url)) {
      throw new Error(`${place.name}: ${place.url} is not an http(s) URL (e.g. ${DEFAULT_URL})`);
    }
  }
  const files = [
    { file: stackFile, kind: 'stack' as const },
    { file: configFile, kind: 'config' as const },
  ];
  const places = [...given];
  /** The places in order, reading each file the first time it is needed. */
  async function* inOrder(): AsyncGenerator<Place> {
    yield* given;
    for (const [i, { file, kind }] of files.entries()) {
      if (places.length <= given.length + i) places.push(await readPlace(file, file, kind));
      yield places[given.length + i] as Place;
    }
  }
  let urlPlace: Place | undefined;
  for await (const place of inOrder()) {
    if (place.url !== undefined) {
      urlPlace = place;
      break;
    }
  }
  const url = urlPlace?.url ?? DEFAULT_URL;
  let token: string | undefined;
  let tokenFrom: TokenSource | undefined;
  const shownDataDir = resolve(dataDir);
  for await (const place of inOrder()) {
    // A file's token goes only to its own URL: a local stack's token is never sent to another server.
    const mine = given.includes(place) || place.url === undefined || place.url === url;
    if (place.token !== undefined && mine) {
      token = place.token;
      const file = given.includes(place) ? {} : { file: place.name };
      tokenFrom = { kind: place.kind, ...file, dataDir: shownDataDir };
      break;
    }
  }
  const keptFile = resolve(dataDir, 'token');
  if (token === undefined && LOOPBACK.test(new URL(url).hostname)) {
    token = (await readFile(keptFile, 'utf8').catch(() => '')).trim() || undefined;
    const stackUrl = places.find((p) => p.kind === 'stack')?.url;
    tokenFrom = { kind: 'kept', file: keptFile, dataDir: shownDataDir, ...(stackUrl ? { stackUrl } : {}) };
  }
  if (token === undefined || tokenFrom === undefined) {
    const looked = [...places.map((p) => `${p.name}${p.missing ? ` (${p.missing})` : ''}`), keptFile];
    throw new Error(
      `no token for ${url}; looked at ${looked.join(', ')}. Start the stack with npm start (with the same SDBATCH_DATA_DIR), or pass --token`,
    );
  }
  return {
    url,
    token,
    urlFrom: urlPlace?.urlFrom ?? `the default URL: no ${CONNECTION_FILE} in ${resolve(dataDir)}`,
    tokenFrom,
  };
}

/**
 * "nothing is listening at http://127.0.0.1:8787/mcp (ECONNREFUSED; ...) — is `npm start` running?":
 * a failure to reach the gateway in one line, from the cause that fetch hides under "fetch failed".
 */
export function unreachable(error: unknown, connection: Connection): string | undefined {
  const chain = causes(error);
  const system = chain.find((e) => typeof e.code === 'string' && /^(E[A-Z_]+|UND_ERR_[A-Z_]+)$/.test(e.code));
  const fetchFailed = chain.some((e) => e instanceof TypeError && e.message === 'fetch failed');
  if (!system && !fetchFailed) return undefined;
  const local = LOOPBACK.test(new URL(connection.url).hostname);
  const hint = local ? ' — is `npm start` running (with the same SDBATCH_DATA_DIR)?' : '';
  const code = system?.code;
  if (code === 'ECONNREFUSED')
    return `nothing is listening at ${connection.url} (${code}; ${connection.urlFrom})${hint}`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return `cannot find the host of ${connection.url} (${code}; ${connection.urlFrom})`;
  }
  const innermost = system ?? chain.at(-1);
  return `cannot reach ${connection.url}: ${innermost?.message}${code ? ` (${code})` : ''} (${connection.urlFrom})${hint}`;
}

/** The error and its causes, outermost first (through `cause` and AggregateError's `errors`). */
function causes(error: unknown): Array<Error & { code?: unknown }> {
  const chain: Array<Error & { code?: unknown }> = [];
  let current = error as (Error & { code?: unknown; errors?: unknown[] }) | undefined;
  while (current instanceof Error && chain.length < 8) {
    chain.push(current);
    current = (current.cause ?? current.errors?.[0]) as typeof current;
  }
  return chain;
}
