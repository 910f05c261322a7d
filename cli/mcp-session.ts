import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { Connection } from './connection.ts';
import { callOrThrow, connectGateway } from './gateway-client.ts';

/** The CLI speaks MCP to the gateway with the official client, as any other client would. */
export class McpSession {
  private client: Client | undefined;
  private readonly connection: Connection;

  constructor(connection: Connection) {
    this.connection = connection;
  }

  async open(): Promise<void> {
    this.client = await connectGateway(this.connection.url, this.connection.token, 'sdbatch-cli');
  }

  private get connected(): Client {
    if (!this.client) throw new Error('McpSession used before open()');
    return this.client;
  }

  /** A tool's structured result; a tool error becomes an exception with the tool's message. */
  call<T>(name: string, args: Record<string, unknown>): Promise<T> {
    return callOrThrow<T>(this.connected, name, args);
  }

  /** The arguments a tool takes and their schemas, from its input schema as the server lists it. */
  async close(): Promise<void> {
    await this.client?.close();
  }
}
