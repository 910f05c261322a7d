import { createRemoteJWKSet, errors, type JWTVerifyGetKey, jwtVerify } from 'jose';
import type { Caller } from '../deps.ts';

export interface OAuthSettings {
  /** The authorization server's issuer URL, exactly as in the tokens' `iss`. */
  issuer: string;
  /** Where its signing keys are published; default `<issuer>/.well-known/jwks.json`. */
  jwksUrl?: string;
  /** This MCP server's URL: tokens must name it in `aud`. */
  audience?: string;
  /**
   * App clients whose access tokens are accepted by their `client_id` claim: Amazon Cognito's
   * access tokens carry no `aud`, so with Cognito the client id stands in for the audience.
   */
  clientIds?: string[];
  /** The scope a token must carry to call tools. */
  requiredScope: string;
}

export type OAuthResult = { caller: Caller } | { status: 401 | 403; error: string; description: string };

/**
 * An OAuth 2.1 resource server: validates JWT access tokens (signature through JWKS, issuer,
 * audience, expiry, scope). The caller is the token's subject.
 */
export function oauthVerifier(
  settings: OAuthSettings,
  keys?: JWTVerifyGetKey,
): (token: string) => Promise<OAuthResult> {
  const jwks =
    keys ??
    createRemoteJWKSet(
      new URL(settings.jwksUrl ?? `${settings.issuer.replace(/\/$/, '')}/.well-known/jwks.json`),
    );
  return async (token) => {
    try {
      const { payload } = await jwtVerify(token, jwks, {
        issuer: settings.issuer,
        ...(settings.audience ? { audience: settings.audience } : {}),
      });
      const issuedToUs =
        !settings.clientIds ||
        (payload.token_use === 'access' && settings.clientIds.includes(String(payload.client_id)));
      if (!issuedToUs) {
        return {
          status: 401,
          error: 'invalid_token',
          description: 'The access token was not issued to this server.',
        };
      }
      const scopes = String(payload.scope ?? payload.scp ?? '').split(/\s+/);
      if (!scopes.includes(settings.requiredScope)) {
        return {
          status: 403,
          error: 'insufficient_scope',
          description: `The token needs the scope "${settings.requiredScope}".`,
        };
      }
      if (!payload.sub)
        return { status: 401, error: 'invalid_token', description: 'The token has no subject.' };
      return { caller: { id: `oauth:${payload.sub}` } };
    } catch (error) {
      // jose says which claim failed; the caller learns that much and nothing of our keys.
      const reason = error instanceof errors.JOSEError ? error.code : 'ERR_INVALID';
      return {
        status: 401,
        error: 'invalid_token',
        description: `The access token is not valid here (${reason}).`,
      };
    }
  };
}

/** RFC 9728 protected resource metadata; `resource` is this MCP URL. */
export function protectedResourceMetadata(settings: OAuthSettings, resource: string) {
  return {
    resource,
    authorization_servers: [settings.issuer],
    scopes_supported: [settings.requiredScope],
    bearer_methods_supported: ['header'],
  };
}
