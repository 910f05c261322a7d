import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EmbeddedStack } from '../../local/stack.ts';
import { connectClient, startTestStack, TOOL_NAMES } from '../support/embedded.ts';
import { tempDir } from '../support/temp-dir.ts';

let dir: Awaited<ReturnType<typeof tempDir>>;
let stack: EmbeddedStack;

beforeAll(async () => {
  dir = await tempDir();
  stack = await startTestStack(dir.path);
});
afterAll(async () => {
  await stack?.stop();
  await dir.remove();
});

const initialize = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'curl', version: '1' } },
};
const post = (headers: Record<string, string>) =>
  fetch(stack.mcpUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...headers,
    },
    body: JSON.stringify(initialize),
  });

describe('the gateway over HTTP', () => {
  it('answers 401 with a Bearer challenge without a token or with a wrong one', async () => {
    for (const headers of [
      {} as Record<string, string>,
      { authorization: 'Bearer wrong-token-wrong-token' },
      { authorization: stack.token },
    ]) {
      const response = await post(headers);
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe('Bearer');
    }
  });

  it('initializes with the right token, as a JSON response', async () => {
    const response = await post({ authorization: `Bearer ${stack.token}` });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('application/json');
    const body = (await response.json()) as { result: { serverInfo: { name: string } } };
    expect(body.result.serverInfo.name).toBe('sdbatch');
  });

  it('answers GET /mcp with 405 and Allow: POST', async () => {
    const response = await fetch(stack.mcpUrl, { headers: { authorization: `Bearer ${stack.token}` } });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('POST');
  });

  it('lists the tools with input and output schemas', async () => {
    const client = await connectClient(stack);
    const { tools } = await client.listTools();
    await client.close();
    const names = tools.map((t) => t.name).sort();
    expect(names).toEqual(TOOL_NAMES);
    for (const tool of tools) {
      // The preview's pictures reach a model only from a result without structuredContent.
      if (tool.name === 'sdreforge_batch_preview') expect(tool.outputSchema).toBeUndefined();
      else expect(tool.outputSchema, tool.name).toBeDefined();
      expect(tool.description?.length, tool.name).toBeGreaterThan(40);
    }
    const start = tools.find((t) => t.name === 'sdreforge_batch_start');
    expect(start?.inputSchema.properties?.batch_size).toMatchObject({ maximum: 8, minimum: 1 });
  });
});
