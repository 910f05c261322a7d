import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { newToken } from '../mcp-gateway/auth/bearer.ts';

/** The embedded gateway's token: SDBATCH_TOKEN, else one generated on first start and kept. */
export async function resolveToken(dataDir: string, fromEnv: string | undefined): Promise<string> {
  if (fromEnv) return fromEnv;
  const file = join(dataDir, 'token');
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await mkdir(dataDir, { recursive: true });
  const token = newToken();
  await writeFile(file, `${token}\n`, { mode: 0o600 });
  return token;
}
