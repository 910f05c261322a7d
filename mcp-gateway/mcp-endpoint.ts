import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { type AuthInfo, createMcpHandler, isLegacyRequest } from '@modelcontextprotocol/server';
import type { Caller, GatewayDeps } from './deps.ts';
import { buildModernServer, buildServer } from './server.ts';

/**
 * One /mcp endpoint for both protocol eras, from the same tool modules. A 2026-07-28 request (its
 * `_meta` envelope) goes to the v2 SDK's per-request handler; a 2025-era one to the 1.x SDK's
 * server over a stateless JSON transport, which alone still serves the 2025-11-25 task form VS
 * Code uses. (The v2 SDK's own legacy fallback has no tasks, and answers over SSE, which a
 * buffered Lambda response cannot stream and earlier gateways never sent.)
 * The caller is already authenticated; the request body already parsed and checked.
 */
export function mcpEndpoint(deps: GatewayDeps) {
  const modern = withoutJsonModeWarning(() =>
    createMcpHandler(({ authInfo }) => buildModernServer({ deps, caller: callerOf(authInfo) }), {
      legacy: 'reject',
      responseMode: 'json',
    }),
  );

  return async (request: Request, body: unknown, caller: Caller): Promise<Response> => {
    if (!(await isLegacyRequest(request, body))) {
      return modern.fetch(request, { parsedBody: body, authInfo: authInfoOf(caller) });
    }
    // Stateless: a fresh server and transport per request, so any instance can answer any call.
    const server = buildServer({ deps, caller });
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
    });
    await server.connect(transport);
    try {
      return await transport.handleRequest(request, { parsedBody: body });
    } finally {
      await server.close();
    }
  };
}

/**
 * JSON responses are chosen on purpose (a buffered Lambda response cannot stream, and no tool
 * sends a notification before its result), so the SDK's warning about them, printed on every
 * start, would only be noise in `npm start` and in each cold start's log.
 */
function withoutJsonModeWarning<T>(create: () => T): T {
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (!String(args[0]).startsWith("responseMode: 'json'")) warn(...args);
  };
  try {
    return create();
  } finally {
    console.warn = warn;
  }
}

// The SDK hands the factory only AuthInfo: the gateway's caller rides in its `extra`.
const authInfoOf = (caller: Caller): AuthInfo => ({
  token: '',
  clientId: caller.id,
  scopes: [],
  extra: { caller },
});

function callerOf(authInfo: AuthInfo | undefined): Caller {
  const caller = authInfo?.extra?.caller as Caller | undefined;
  // Every /mcp request passed authentication first; without a caller nothing may be answered.
  if (!caller) throw new Error('MCP request without an authenticated caller');
  return caller;
}
