import {
  type AuthInfo,
  createMcpHandler,
  isLegacyRequest,
  WebStandardStreamableHTTPServerTransport,
} from '@modelcontextprotocol/server';
import type { Caller, GatewayDeps } from './deps.ts';
import { buildServer } from './server.ts';

/**
 * One /mcp endpoint for both protocol eras, from one server definition. A 2026-07-28 request
 * (its `_meta` envelope) goes to the SDK's per-request handler; a 2025-era one to a stateless
 * JSON transport. The SDK's own legacy fallback answers over SSE, which a buffered Lambda
 * response cannot stream and earlier gateways never sent.
 * The caller is already authenticated; the request body already parsed and checked.
 */
export function mcpEndpoint(deps: GatewayDeps) {
  const modern = createMcpHandler(
    ({ authInfo }) => buildServer({ deps, caller: callerOf(authInfo) }, 'modern'),
    {
      legacy: 'reject',
      responseMode: 'json',
    },
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
