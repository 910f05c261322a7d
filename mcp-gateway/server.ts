import { McpServer } from '@modelcontextprotocol/server';
import type { ToolContext } from './deps.ts';
import { serveJobTasks } from './tasks/tasks-extension.ts';
import { registerCancelTool } from './tools/cancel.ts';
import { registerListTool } from './tools/list.ts';
import { registerPresetsTool } from './tools/presets.ts';
import { registerPreviewTool } from './tools/preview.ts';
import { registerResultTool } from './tools/result.ts';
import { registerStartTool } from './tools/start.ts';
import { registerStatusTool } from './tools/status.ts';

export const SERVER_INFO = { name: 'sdbatch', version: '0.1.0' };

/** Which protocol a request speaks: 2025-era (initialize, sessions) or 2026-07-28 (per request). */
export type ProtocolEra = 'legacy' | 'modern';

/** The MCP server for one request's caller; it knows nothing of transports. */
export function buildServer(ctx: ToolContext, era: ProtocolEra = 'legacy'): McpServer {
  const server = new McpServer(SERVER_INFO, {
    instructions:
      'Generate Stable Diffusion images in batches too large for one tool call: start a job, poll its status, ' +
      'then fetch presigned image URLs.',
  });
  registerStartTool(server, ctx);
  registerStatusTool(server, ctx);
  registerResultTool(server, ctx);
  registerPreviewTool(server, ctx);
  registerCancelTool(server, ctx);
  registerListTool(server, ctx);
  registerPresetsTool(server, ctx);
  // The tasks extension is a 2026-07-28 extension: declared in server/discover, read per request.
  if (era === 'modern') serveJobTasks(server, ctx);
  return server;
}
