import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { ClientRequestSchema, ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';

type Handler = (request: { method: string; params?: unknown }, extra: unknown) => Promise<unknown>;
/** The 1.x SDK keeps its handlers in this private map; it has no accessor for them. */
type HandlerMap = { _requestHandlers: Map<string, Handler> };

/** The 1.x SDK's own schema of each client request, by method. */
const REQUEST_SCHEMAS = new Map<string, (typeof ClientRequestSchema.options)[number]>(
  ClientRequestSchema.options.map((s) => [s.shape.method.value, s]),
);

/**
 * Requests whose params the 1.x SDK's own schema refuses (a numeric taskId, a string ttl, an object
 * cursor) answer InvalidParams naming the field. The SDK parses params before its handler runs
 * and lets the schema error out as an internal error (-32603) whose message is the raw issue dump.
 * Call once every handler is registered.
 */
export function refuseBadParams(server: Server): void {
  const handlers = (server as unknown as HandlerMap)._requestHandlers;
  for (const [method, handler] of handlers) {
    const params = REQUEST_SCHEMAS.get(method)?.shape.params;
    if (!params) continue;
    handlers.set(method, async (request, extra) => {
      const checked = params.safeParse(request.params);
      if (!checked.success) {
        throw new McpError(
          ErrorCode.InvalidParams,
          `Invalid params for ${method}: ${checked.error.issues
            .map((issue) => `${issue.path.join('.') || 'params'}: ${issue.message}`)
            .join('; ')}`,
        );
      }
      return handler(request, extra);
    });
  }
}
