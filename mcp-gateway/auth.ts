import { createHash, timingSafeEqual } from 'node:crypto';
import type { Caller } from './deps.ts';

/** Resolves a bearer token to its caller, or undefined when it is not one of ours. */
export type TokenVerifier = (token: string) => Promise<Caller | undefined>;

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

/** One static token; compared as fixed-length digests so timing reveals nothing of it. */
export function staticTokenVerifier(expected: string, callerId = 'default'): TokenVerifier {
  const expectedDigest = digest(expected);
  return async (token) => (timingSafeEqual(digest(token), expectedDigest) ? { id: callerId } : undefined);
}

export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}
