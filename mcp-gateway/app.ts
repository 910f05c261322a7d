import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { StoresUnavailableError } from '../core/errors.ts';
import type { TokenStore } from '../core/tokens.ts';
import { adminRoutes } from './admin-routes.ts';
import type { TokenVerifier } from './auth/bearer.ts';
import { type AuthEnv, authenticate } from './auth/middleware.ts';
import type { OAuthResult, OAuthSettings } from './auth/oauth.ts';
import { protectedResourceMetadata } from './auth/oauth.ts';
import type { GatewayDeps } from './deps.ts';
import { mcpEndpoint } from './mcp-endpoint.ts';
import { type GuardOptions, hostAndOriginGuard, jsonDepth } from './request-guards.ts';

export interface AppOptions extends GuardOptions {
  deps: GatewayDeps;
  verifyToken: TokenVerifier;
  /** Named tokens; with it the admin routes exist. */
  tokens?: TokenStore;
  /** OAuth resource-server mode (for clients that only do OAuth). */
  oauth?: { settings: OAuthSettings; verify: (token: string) => Promise<OAuthResult> };
  /** Deepest JSON nesting a request may have. */
  maxJsonDepth?: number;
  /** Why the stores cannot serve now (the embedded stack's), else undefined: /health says it. */
  storesDown?: () => string | undefined;
}

const METADATA_PATH = '/.well-known/oauth-protected-resource';

/** The gateway as a web-standard app: Lambda and the embedded stack each add only an adapter. */
export function createApp(options: AppOptions): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  const { limits } = options.deps.settings;
  const maxDepth = options.maxJsonDepth ?? 32;
  const oauth = options.oauth && { verify: options.oauth.verify, audience: options.oauth.settings.audience };

  app.use('*', hostAndOriginGuard(options));
  const mcp = mcpEndpoint(options.deps);
  app.use('/mcp', authenticate({ verifyToken: options.verifyToken, oauth }, { jwt: true }));

  if (options.oauth) {
    const settings = options.oauth.settings;
    // Without a configured audience the MCP URL is this request's own origin + /mcp (a Function
    // URL cannot be written into its own function's environment).
    const metadata = (url: string) => protectedResourceMetadata(settings, settings.audience ?? mcpUrlOf(url));
    // Both the root form and the path form (RFC 9728 section 3.1) of the well-known URL.
    app.get(METADATA_PATH, (c) => c.json(metadata(c.req.url)));
    app.get(`${METADATA_PATH}/mcp`, (c) => c.json(metadata(c.req.url)));
  }

  app.post(
    '/mcp',
    bodyLimit({
      maxSize: limits.maxRequestBytes,
      // The rest of the body is never read, so the connection cannot carry another request.
      onError: (c) =>
        c.json({ error: `request body larger than ${limits.maxRequestBytes} bytes` }, 413, {
          Connection: 'close',
        }),
    }),
    async (c) => {
      let body: unknown;
      try {
        body = JSON.parse(await c.req.text());
      } catch {
        return c.json(
          { jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error: invalid JSON' } },
          400,
        );
      }
      if (jsonDepth(body) > maxDepth) {
        return c.json(
          {
            jsonrpc: '2.0',
            id: null,
            error: { code: -32600, message: `JSON nested deeper than ${maxDepth} levels` },
          },
          400,
        );
      }
      return mcp(c.req.raw, body, c.get('caller'));
    },
  );

  // Stateless servers have no stream to resume and no session to end.
  app.on(['GET', 'DELETE'], '/mcp', (c) => {
    c.header('Allow', 'POST');
    return c.json({ error: 'method not allowed' }, 405);
  });

  if (options.tokens) {
    app.use('/admin/*', authenticate({ verifyToken: options.verifyToken }, { jwt: false }));
    app.route('/admin', adminRoutes(options.tokens, options.deps.now));
  }

  app.get('/health', (c) => {
    const down = options.storesDown?.();
    return down ? c.json({ ok: false, error: down }, 503) : c.json({ ok: true });
  });
  app.onError((error, c) => {
    // A named token is looked up in the stores: while they are stopped, say why.
    if (error instanceof StoresUnavailableError) return c.json({ error: error.message }, 503);
    // Logged for the operator; the caller gets no internals.
    console.error('gateway error', error);
    return c.json({ error: 'internal error' }, 500);
  });
  return app;
}

/** This gateway's MCP URL as seen by the caller (Lambda Function URLs are https). */
export function mcpUrlOf(requestUrl: string): string {
  const url = new URL('/mcp', requestUrl);
  if (url.hostname.endsWith('.on.aws')) url.protocol = 'https:';
  return url.toString();
}
