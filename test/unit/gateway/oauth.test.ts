import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../../mcp-gateway/app.ts';
import { tokenVerifier } from '../../../mcp-gateway/auth/bearer.ts';
import { type OAuthSettings, oauthVerifier } from '../../../mcp-gateway/auth/oauth.ts';
import { DEFAULT_LIMITS, type GatewayDeps } from '../../../mcp-gateway/deps.ts';

const AUDIENCE = 'https://abc.lambda-url.eu-west-1.on.aws/mcp';
let jwksServer: Server;
let settings: OAuthSettings;
let privateKey: CryptoKey;
let strangerKey: CryptoKey;

// Only ping and metadata are exercised: the tools' dependencies are never touched.
const deps = { settings: { limits: DEFAULT_LIMITS }, now: () => new Date() } as unknown as GatewayDeps;

beforeAll(async () => {
  const pair = await generateKeyPair('RS256');
  privateKey = pair.privateKey;
  strangerKey = (await generateKeyPair('RS256')).privateKey;
  const jwk: JWK = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  jwksServer = createServer((_req, res) =>
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] })),
  );
  await new Promise<void>((r) => jwksServer.listen(0, '127.0.0.1', r));
  const issuer = 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_test';
  settings = {
    issuer,
    jwksUrl: `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks.json`,
    audience: AUDIENCE,
    requiredScope: 'sdbatch/tools',
  };
});
afterAll(async () => {
  await new Promise((r) => jwksServer.close(r));
});

const app = () =>
  createApp({
    deps,
    verifyToken: tokenVerifier('admin-token-admin-token'),
    oauth: { settings, verify: oauthVerifier(settings) },
  });

async function token(claims: Record<string, unknown> = {}, key: CryptoKey = privateKey, expires = '5m') {
  return new SignJWT({ scope: 'openid sdbatch/tools', ...claims })
    .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
    .setIssuer(String(claims.iss ?? settings.issuer))
    .setAudience(String(claims.aud ?? AUDIENCE))
    .setSubject('user-123')
    .setIssuedAt()
    .setExpirationTime(expires)
    .sign(key);
}

const ping = (bearer?: string) =>
  app().request('/mcp', {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
  });

describe('the gateway as an OAuth resource server', () => {
  it('serves RFC 9728 metadata at both well-known forms', async () => {
    for (const path of [
      '/.well-known/oauth-protected-resource',
      '/.well-known/oauth-protected-resource/mcp',
    ]) {
      const response = await app().request(path);
      expect(await response.json()).toEqual({
        resource: AUDIENCE,
        authorization_servers: [settings.issuer],
        scopes_supported: ['sdbatch/tools'],
        bearer_methods_supported: ['header'],
      });
    }
  });

  it('accepts a valid access token', async () => {
    expect((await ping(await token())).status).toBe(200);
  });

  it.each([
    ['no token', async () => undefined],
    ['an expired token', async () => token({}, privateKey, '-1m')],
    ['a wrong audience', async () => token({ aud: 'https://elsewhere.example.com/mcp' })],
    ['a wrong issuer', async () => token({ iss: 'https://evil.example.com' })],
    ['a foreign signature', async () => token({}, strangerKey)],
    ['a static token', async () => 'admin-token-admin-token'],
  ])('refuses %s with 401 pointing at the metadata', async (_what, make) => {
    const response = await ping(await make());
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(
      /^Bearer resource_metadata="https:\/\/abc\.lambda-url\.eu-west-1\.on\.aws\/\.well-known\/oauth-protected-resource"/,
    );
  });

  it('answers a token without the scope with 403 insufficient_scope', async () => {
    const response = await ping(await token({ scope: 'openid' }));
    expect(response.status).toBe(403);
    expect(response.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
  });
});

describe('static-token mode', () => {
  it('advertises no OAuth: no metadata and a plain Bearer challenge', async () => {
    const plain = createApp({ deps, verifyToken: tokenVerifier('admin-token-admin-token') });
    expect((await plain.request('/.well-known/oauth-protected-resource')).status).toBe(404);
    const response = await plain.request('/mcp', { method: 'POST', body: '{}' });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer');
  });
});

describe('Cognito-style access tokens (client_id, no aud)', () => {
  const cognito = () => {
    const s: OAuthSettings = { ...settings, audience: undefined, clientIds: ['client-abc'] };
    return createApp({
      deps,
      verifyToken: tokenVerifier('admin-token-admin-token'),
      oauth: { settings: s, verify: oauthVerifier(s) },
    });
  };
  const cognitoToken = (claims: Record<string, unknown>) =>
    new SignJWT({ scope: 'sdbatch/tools', token_use: 'access', ...claims })
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setIssuer(settings.issuer)
      .setSubject('user-9')
      .setExpirationTime('5m')
      .sign(privateKey);
  const call = async (token: string) =>
    cognito().request('https://abc.lambda-url.eu-west-1.on.aws/mcp', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        authorization: `Bearer ${token}`,
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });

  it('accepts a token issued to our client and refuses one issued to another', async () => {
    expect((await call(await cognitoToken({ client_id: 'client-abc' }))).status).toBe(200);
    expect((await call(await cognitoToken({ client_id: 'someone-else' }))).status).toBe(401);
    expect((await call(await cognitoToken({ client_id: 'client-abc', token_use: 'id' }))).status).toBe(401);
  });

  it("names this request's own MCP URL as the resource when no audience is configured", async () => {
    const response = await cognito().request(
      'https://abc.lambda-url.eu-west-1.on.aws/.well-known/oauth-protected-resource',
    );
    expect(((await response.json()) as { resource: string }).resource).toBe(AUDIENCE);
  });
});
