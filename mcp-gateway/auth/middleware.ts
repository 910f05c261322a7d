import type { MiddlewareHandler } from 'hono';
import type { Caller } from '../deps.ts';
import { bearerToken, type TokenVerifier } from './bearer.ts';
import type { OAuthResult } from './oauth.ts';

export type AuthEnv = { Variables: { caller: Caller } };

export interface AuthOptions {
  verifyToken: TokenVerifier;
  /** OAuth resource-server mode: JWTs for /mcp, and where the metadata lives for the challenge. */
  oauth?: { verify: (token: string) => Promise<OAuthResult>; audience?: string };
}

/**
 * Finds the caller. In static-token mode a failure is a plain `Bearer` challenge (advertising
 * OAuth would make clients such as Claude Code ignore their static header); in OAuth mode the
 * challenge points at the RFC 9728 metadata.
 */
export function authenticate(options: AuthOptions, { jwt }: { jwt: boolean }): MiddlewareHandler<AuthEnv> {
  return async (c, next) => {
    const token = bearerToken(c.req.header('authorization'));
    if (jwt && options.oauth) {
      const result: OAuthResult = token
        ? await options.oauth.verify(token)
        : { status: 401, error: 'invalid_request', description: 'A bearer access token is required.' };
      if ('caller' in result) {
        c.set('caller', result.caller);
        return next();
      }
      const resource = options.oauth.audience ?? new URL('/mcp', c.req.url).toString();
      const metadataUrl = new URL('/.well-known/oauth-protected-resource', resource)
        .toString()
        .replace(/^http:(?=\/\/[^/]*\.on\.aws)/, 'https:');
      c.header(
        'WWW-Authenticate',
        `Bearer resource_metadata="${metadataUrl}", error="${result.error}", error_description="${result.description}"`,
      );
      return c.json({ error: result.error, error_description: result.description }, result.status);
    }
    const caller = token ? await options.verifyToken(token) : undefined;
    if (!caller) {
      c.header('WWW-Authenticate', 'Bearer');
      return c.json({ error: 'unauthorized', error_description: 'A valid bearer token is required.' }, 401);
    }
    c.set('caller', caller);
    return next();
  };
}
