import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import {
  createTaskSessionFromClient,
  type JsonRpcResponse,
  type TaskEnabledSession,
} from '@modelcontextprotocol/ext-tasks/client';
import type { EmbeddedStack } from '../../local/stack.ts';

/** Protocol 2026-07-28, as Claude Code speaks it: no initialize, an envelope on every request. */
export const MODERN = '2026-07-28';
const CLIENT_INFO = { name: 'sdbatch-test-2026', version: '1.0.0' };

/** The official v2 client over Streamable HTTP, pinned to 2026-07-28, with a bearer token. */
export async function connectModernClient(stack: EmbeddedStack, token = stack.token): Promise<Client> {
  const client = new Client(CLIENT_INFO, { versionNegotiation: { mode: { pin: MODERN } } });
  const transport = new StreamableHTTPClientTransport(new URL(stack.mcpUrl), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
  });
  await client.connect(transport);
  return client;
}

/**
 * One JSON-RPC request posted as a 2026-07-28 client posts it (the method and name headers), as
 * given: params are not checked here, so a test can send what a faulty client would.
 */
export async function postModern(
  stack: EmbeddedStack,
  message: { id: number; method: string; params?: Record<string, unknown> },
  token = stack.token,
): Promise<JsonRpcResponse> {
  const name = message.params?.name ?? message.params?.taskId;
  const response = await fetch(stack.mcpUrl, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': MODERN,
      'mcp-method': message.method,
      ...(typeof name === 'string' ? { 'mcp-name': name } : {}),
    },
    body: JSON.stringify({ jsonrpc: '2.0', ...message }),
  });
  const body = (await response.json()) as { result?: never; error?: never };
  return body.error ? { kind: 'error', error: body.error } : { kind: 'result', result: body.result ?? null };
}

/** The request envelope a 2026-07-28 client puts in every request's `_meta`, with the tasks extension. */
export const MODERN_ENVELOPE = {
  'io.modelcontextprotocol/protocolVersion': MODERN,
  'io.modelcontextprotocol/clientInfo': CLIENT_INFO,
  'io.modelcontextprotocol/clientCapabilities': { extensions: { 'io.modelcontextprotocol/tasks': {} } },
};

/**
 * The ext-tasks requester over a connected 2026-07-28 client. The SDK client's codec refuses a
 * tools/call answered with a task, so ext-tasks sends tools/call and tasks/* itself: this
 * dispatch posts them as a 2026-07-28 client would, with the same token.
 */
export function taskSession(stack: EmbeddedStack, client: Client, token = stack.token): TaskEnabledSession {
  let nextId = 1;
  const rawDispatch = (request: unknown): Promise<JsonRpcResponse> =>
    postModern(
      stack,
      { id: nextId++, ...(request as { method: string; params?: Record<string, unknown> }) },
      token,
    );
  return createTaskSessionFromClient(client, {
    endpointId: `sdbatch-test:${stack.mcpUrl}`,
    rawDispatch,
    v2RequestFraming: { protocolVersion: MODERN, clientInfo: CLIENT_INFO, clientCapabilities: {} },
  });
}
