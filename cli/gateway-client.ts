import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';

/**
 * The gateway as any MCP client meets it: the official 2025-era client over Streamable HTTP with
 * a bearer token. The CLI, the benchmark and the end-to-end tests all connect through here.
 */
export async function connectGateway(url: string, token: string, name: string): Promise<Client> {
  const client = new Client({ name, version: '0.1.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(url), {
      requestInit: { headers: { Authorization: `Bearer ${token}` } },
    }),
  );
  return client;
}

/** A tool's whole result and its structured content, as they came. */
export async function callTool<T = Record<string, unknown>>(
  client: Client,
  name: string,
  args: Record<string, unknown>,
): Promise<{ result: CallToolResult; data: T }> {
  const result = (await client.callTool({ name, arguments: args })) as CallToolResult;
  return { result, data: result.structuredContent as T };
}

/** A tool's structured result; a tool error becomes an exception carrying the tool's words. */
export async function callOrThrow<T = Record<string, unknown>>(
  client: Client,
  name: string,
  args: Record<string, unknown>,
): Promise<T> {
  const { result, data } = await callTool<T>(client, name, args);
  if (result.isError) {
    const text = result.content.map((c) => (c.type === 'text' ? c.text : '')).join(' ');
    throw new Error(text || `${name} failed`);
  }
  return data;
}
