import type { Connection, TokenSource } from './connection.ts';

/** A gateway answer the CLI read itself (the admin routes) that was not 2xx. */
export class GatewayHttpError extends Error {
  readonly code: number;
  /** The server's own words ("forbidden: Only the admin token may manage tokens."). */
  readonly words: string;
  constructor(code: number, body: unknown, statusText: string) {
    const words = wordsOf(body);
    super(`${code}: ${words || statusText}`);
    this.code = code;
    this.words = words;
  }
}

/** Enough of a token to tell two apart ("sdb_AbCd…"), never enough to use it. */
export function shownToken(token: string): string {
  return token.length > 12 ? `${token.slice(0, 8)}…` : '…';
}

/** Where the token came from, as a message says it. */
export function tokenOrigin(from: TokenSource): string {
  switch (from.kind) {
    case 'flag':
      return 'given by --token';
    case 'env':
      return 'from SDBATCH_TOKEN';
    case 'stack':
      return `read from ${from.file}, the stack's connection file`;
    case 'config':
      return `read from ${from.file}`;
    case 'kept':
      return `read from ${from.file}, the token kept in the data dir ${from.dataDir} (${
        from.stackUrl
          ? `whose stack is at ${from.stackUrl}`
          : 'no connection.json there: no stack of that data dir is running'
      })`;
  }
}

/** What to do about a refused token, by where it came from. */
function refusedHint(from: TokenSource): string {
  switch (from.kind) {
    case 'flag':
      return 'pass the token this gateway gave (npm start prints it; a named one from sdbatch token create)';
    case 'env':
      return 'unset SDBATCH_TOKEN or set it to a token this gateway knows';
    case 'stack':
      return 'the stack that wrote it is gone or was started again with another token: start it again with npm start, or pass --token';
    case 'config':
      return `put a token this gateway knows in ${from.file} (a named token may have been revoked: ask for a new one)`;
    case 'kept':
      return from.stackUrl
        ? `that data dir's stack is at ${from.stackUrl}: leave out --url and SDBATCH_URL, or pass --token`
        : 'the stack listening there was started with another SDBATCH_DATA_DIR: run with that SDBATCH_DATA_DIR, or pass --token';
  }
}

/** The server's own words from an error body ({"error", "error_description"}), if any. */
function wordsOf(body: unknown): string {
  const { error, error_description } = (body ?? {}) as Record<string, unknown>;
  return [error, error_description].filter((w) => typeof w === 'string').join(': ');
}

/** The words of an error the MCP SDK threw, whose message ends with the answer's body. */
function serverWords(error: Error): string {
  if (error instanceof GatewayHttpError) return error.words;
  try {
    return wordsOf(JSON.parse(error.message.slice(error.message.indexOf('{'))));
  } catch {
    return '';
  }
}

/**
 * "http://…/mcp refused the token sdb_AbCd… (read from …): 401 …; what to do": an authentication
 * failure in one line saying which token was sent, where it came from and what to do; a 403 says
 * what the token may not do. Undefined for any other error.
 */
export function authFailure(error: unknown, connection: Connection, action: string): string | undefined {
  let current = error as (Error & { code?: unknown }) | undefined;
  for (let depth = 0; current instanceof Error && depth < 8; depth++) {
    const code = current.code;
    const words = code === 401 || code === 403 ? serverWords(current).replace(/\.$/, '') : '';
    // A 403 for the host or origin (request-guards.ts) is not about the token.
    if (code === 401 || (code === 403 && words.startsWith('forbidden:'))) {
      const token = `the token ${shownToken(connection.token)} (${tokenOrigin(connection.tokenFrom)})`;
      if (code === 401) {
        return `${connection.url} refused ${token}: 401 ${words || 'unauthorized'}. It may be revoked or another gateway's; ${refusedHint(connection.tokenFrom)}`;
      }
      return `${connection.url} does not let ${token} ${action}: 403 ${words}. Use a token that may (the admin token manages tokens: the one npm start keeps in its data dir, or a deployed gateway's from its TokenCommand)`;
    }
    current = current.cause as typeof current;
  }
  return undefined;
}
