/** MCP clients of the gateway, as an assistant would connect: Streamable HTTP with the bearer token. */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { HostReady } from './protocol.ts';

export async function connect(host: HostReady, name = 'sdbatch-bench'): Promise<Client> {
  const client = new Client({ name, version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(host.mcpUrl), {
    requestInit: { headers: { Authorization: `Bearer ${host.token}` } },
  });
  await client.connect(transport);
  return client;
}

/** One tool call; throws when the tool answers with an error. */
export async function call<T = Record<string, unknown>>(
  client: Client,
  name: string,
  args: Record<string, unknown>,
): Promise<T> {
  const result = (await client.callTool({ name, arguments: args })) as CallToolResult;
  if (result.isError) {
    const text = result.content.map((c) => (c.type === 'text' ? c.text : c.type)).join(' ');
    throw new Error(`${name} failed: ${text}`);
  }
  return result.structuredContent as T;
}

export interface StartAnswer {
  job_id: string;
  total_images: number;
}

export interface StatusAnswer {
  status: string;
  completed_images: number;
  total_images: number;
}

export interface ResultAnswer {
  status: string;
  files: Array<{ url: string; key: string }>;
  next_cursor?: string;
}

/** The benchmark's job: the default preset's 512x512 at 20 steps, a fixed seed. */
export const jobArgs = (batchSize: number, nIter: number, prompt = 'a lighthouse at dusk, benchmark') => ({
  prompt,
  width: 512,
  height: 512,
  steps: 20,
  seed: 1234,
  batch_size: batchSize,
  n_iter: nIter,
});
