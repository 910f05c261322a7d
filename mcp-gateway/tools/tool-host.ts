import type { McpServer as LegacyMcpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult, McpServer, ToolAnnotations } from '@modelcontextprotocol/server';
import type { z } from 'zod';

/** A tool's definition, as both SDKs' `McpServer.registerTool` take it (zod schemas). */
export interface ToolConfig<Input extends z.ZodType> {
  title: string;
  description: string;
  inputSchema: Input;
  outputSchema?: z.ZodType;
  annotations: ToolAnnotations;
}

/** What a tool module needs of an MCP server: the 1.x one (2025-era) or the v2 one (2026-07-28). */
export interface ToolHost {
  registerTool<Input extends z.ZodType>(
    name: string,
    config: ToolConfig<Input>,
    run: (args: z.output<Input>) => Promise<CallToolResult>,
  ): void;
}

/**
 * Either SDK's server as a tool host. Both validate the arguments against `inputSchema` before
 * `run` sees them and check a result against `outputSchema`; their overloaded, SDK-specific
 * signatures only differ in how they name the same zod and result types.
 */
export function toolHostOf(server: LegacyMcpServer | McpServer): ToolHost {
  return {
    registerTool(name, config, run) {
      (server as McpServer).registerTool(name, config, run as never);
    },
  };
}
