import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import type { ToolContext } from './deps.ts';
import { JobTaskStore } from './tasks/job-task-store.ts';
import { registerCancelTool } from './tools/cancel.ts';
import { registerListTool } from './tools/list.ts';
import { registerPresetsTool } from './tools/presets.ts';
import { registerPreviewTool } from './tools/preview.ts';
import { registerResultTool } from './tools/result.ts';
import { registerStartTool } from './tools/start.ts';
import { registerStatusTool } from './tools/status.ts';

export const SERVER_INFO = { name: 'sdbatch', version: '0.1.0' };

// Every request builds a server (stateless transport); the SDK would otherwise construct and
// configure a fresh Ajv instance for each one, which cost more than the tool call itself.
const jsonSchemaValidator = new AjvJsonSchemaValidator();

/** The MCP server for one request's caller; it knows nothing of transports. */
export function buildServer(ctx: ToolContext): McpServer {
  const server = new McpServer(SERVER_INFO, {
    jsonSchemaValidator,
    // Tasks are the caller's jobs: tasks/get, tasks/result, tasks/list and tasks/cancel read the
    // jobs table, so any gateway instance answers them.
    taskStore: new JobTaskStore(ctx),
    capabilities: { tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } } },
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
  return server;
}
