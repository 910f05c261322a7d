import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { bearerToken, type TokenVerifier } from './auth.ts';
import type { Caller, GatewayDeps } from './deps.ts';
import { buildServer } from './server.ts';

export interface AppOptions {
  deps: GatewayDeps;
  verifyToken: TokenVerifier;
  /** Origins allowed to call from a browser; requests without Origin (CLI clients) always pass. */
  allowedOrigins?: string[];
}

type Env = { Variables: { caller: Caller } };

/** The gateway as a web-standard app: Lambda and the embedded stack each add only an adapter. */
export function createApp(options: AppOptions): Hono<Env> {
  const app = new Hono<Env>();

  app.use('/mcp', async (c, next) => {
    const origin = c.req.header('origin');
    if (origin && options.allowedOrigins && !options.allowedOrigins.includes(origin)) {
      return c.json({ error: 'forbidden origin' }, 403);
    }
    const token = bearerToken(c.req.header('authorization'));
    const caller = token ? await options.verifyToken(token) : undefined;
    if (!caller) {
      c.header('WWW-Authenticate', 'Bearer');
      return c.json({ error: 'unauthorized', error_description: 'A valid bearer token is required.' }, 401);
    }
    c.set('caller', caller);
    await next();
  });

  app.post(
    '/mcp',
    bodyLimit({
      maxSize: options.deps.settings.limits.maxRequestBytes,
      onError: (c) =>
        c.json(
          { error: `request body larger than ${options.deps.settings.limits.maxRequestBytes} bytes` },
          413,
        ),
    }),
    async (c) => {
      // Stateless: a fresh server and transport per request, so any instance can answer any call.
      const server = buildServer({ deps: options.deps, caller: c.get('caller') });
      const transport = new WebStandardStreamableHTTPServerTransport({
        sessionIdGenerator: undefined,
        enableJsonResponse: true,
      });
      await server.connect(transport);
      try {
        return await transport.handleRequest(c.req.raw);
      } finally {
        await server.close();
      }
    },
  );

  // Stateless servers have no stream to resume and no session to end.
  app.on(['GET', 'DELETE'], '/mcp', (c) => {
    c.header('Allow', 'POST');
    return c.json({ error: 'method not allowed' }, 405);
  });

  app.get('/health', (c) => c.json({ ok: true }));
  app.onError((error, c) => {
    console.error('gateway error', error);
    return c.json({ error: 'internal error' }, 500);
  });
  return app;
}
