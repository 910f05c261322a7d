import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Connection } from './connection.ts';

/** The CLI speaks MCP to the gateway with the official client, as any other client would. */
export class McpSession {
  private readonly client = new Client({ name: 'sdbatch-cli', version: '0.1.0' });
  private readonly connection: Connection;

  constructor(connection: Connection) {
    this.connection = connection;
  }

  async open(): Promise<void> {
    await this.client.connect(
      new StreamableHTTPClientTransport(new URL(this.connection.url), {
        requestInit: { headers: { Authorization: `Bearer ${this.connection.token}` } },
      }),
    );
  }

  /** A tool's structured result; a tool error becomes an exception with the tool's message. */
  async call<T>(name: string, args: Record<string, unknown>): Promise<T> {
    const result = (await this.client.callTool({ name, arguments: args })) as CallToolResult;
    if (result.isError) {
      const text = result.content.map((c) => (c.type === 'text' ? c.text : '')).join(' ');
      throw new Error(text || `${name} failed`);
    }
    return result.structuredContent as T;
  }

  /** The argument names a tool takes, from its input schema as the server lists it. */
  async argumentNames(name: string): Promise<string[]> {
    const { tools } = await this.client.listTools();
    const schema = tools.find((t) => t.name === name)?.inputSchema;
    return Object.keys(schema?.properties ?? {});
  }

  close(): Promise<void> {
    return this.client.close();
  }
}
