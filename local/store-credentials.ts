import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { STORE_ROLES, type StoreRole } from '../lambdas/function-roles.ts';

/** Beside the token in the data dir, readable by its owner only. */
export const CREDENTIALS_FILE = 'store-credentials.json';

const Credentials = z.object({ accessKeyId: z.string().min(16), secretAccessKey: z.string().min(32) });
export type StoreCredentials = z.infer<typeof Credentials>;
const CredentialsFile = z.object(
  Object.fromEntries(STORE_ROLES.map((role) => [role, Credentials])) as Record<StoreRole, typeof Credentials>,
);
export type RoleCredentials = Record<StoreRole, StoreCredentials>;

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
/** An access key id shaped like AWS's (AKIA + 16 base32 characters) and a 40-character secret. */
const newCredentials = (): StoreCredentials => ({
  accessKeyId: `AKIA${[...randomBytes(16)].map((b) => BASE32[b % 32]).join('')}`,
  secretAccessKey: randomBytes(30).toString('base64'),
});

/**
 * Each function role's keys for the embedded stores, random per data dir: the stores answer only
 * requests signed with one of them, so another process on the machine cannot reach them without
 * reading this file (mode 0600). A data dir from before the front gets its file on first start.
 */
export async function loadRoleCredentials(dataDir: string): Promise<RoleCredentials> {
  const file = join(dataDir, CREDENTIALS_FILE);
  try {
    const parsed = CredentialsFile.safeParse(JSON.parse(await readFile(file, 'utf8')));
    if (parsed.success) return parsed.data;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT' && !(error instanceof SyntaxError)) throw error;
  }
  const fresh = Object.fromEntries(STORE_ROLES.map((role) => [role, newCredentials()])) as RoleCredentials;
  await writeFile(file, `${JSON.stringify(fresh, null, 2)}\n`, { mode: 0o600 });
  return fresh;
}
