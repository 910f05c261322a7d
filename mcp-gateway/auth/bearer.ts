import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { TokenStore } from '../../core/tokens.ts';
import type { Caller } from '../deps.ts';

/** Resolves a bearer token to its caller, or undefined when it is not one of ours. */
export type TokenVerifier = (token: string) => Promise<Caller | undefined>;

/** Tokens are 192 random bits, so a plain SHA-256 digest is a safe form to store and look up. */
export const tokenHash = (token: string): string => createHash('sha256').update(token).digest('hex');
export const newToken = (): string => `sdb_${randomBytes(24).toString('base64url')}`;

const sameDigest = (a: string, b: string): boolean => {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && timingSafeEqual(x, y);
};

/**
 * The deployment's bootstrap token (SDBATCH_TOKEN locally, a Secrets Manager secret in AWS) is
 * the administrator, caller "default"; named tokens from the store are their own callers.
 * Digests are compared in constant time.
 */
export function tokenVerifier(adminToken: string, store?: TokenStore): TokenVerifier {
  const adminHash = tokenHash(adminToken);
  return async (token) => {
    const hash = tokenHash(token);
    if (sameDigest(hash, adminHash)) return { id: 'default', admin: true };
    const record = store ? await store.findByHash(hash) : undefined;
    if (!record || record.revoked_at || !sameDigest(record.hash, hash)) return undefined;
    return { id: record.name };
  };
}

export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}
