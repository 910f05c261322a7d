import { rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * In the data dir while a stack serves it: what a client needs to reach it, so the `sdbatch` CLI
 * finds a stack on any port from SDBATCH_DATA_DIR alone.
 */
export const CONNECTION_FILE = 'connection.json';

export interface ConnectionFile {
  url: string;
  token: string;
}

/** Written whole (a renamed draft) and readable by the user only: it holds the token. */
export async function writeConnectionFile(dataDir: string, connection: ConnectionFile): Promise<void> {
  const file = join(dataDir, CONNECTION_FILE);
  const draft = `${file}.${process.pid}.new`;
  // A draft left by a killed process of the same pid is replaced, never reused with its mode.
  await unlink(draft).catch(() => {});
  await writeFile(draft, `${JSON.stringify(connection, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  await rename(draft, file);
}

/** Gone once the stack stops, so the file's presence means a stack is (or was, until killed) there. */
export async function removeConnectionFile(dataDir: string): Promise<void> {
  await unlink(join(dataDir, CONNECTION_FILE)).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
}

/** The URL a client on this machine uses: a wildcard bind address is reached through loopback. */
export function clientUrl(mcpUrl: string): string {
  const url = new URL(mcpUrl);
  if (url.hostname === '0.0.0.0') url.hostname = '127.0.0.1';
  if (url.hostname === '[::]') url.hostname = '[::1]';
  return url.toString();
}
