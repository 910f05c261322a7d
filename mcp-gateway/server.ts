import { McpServer as LegacyMcpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import { McpServer } from '@modelcontextprotocol/server';
import type { ToolContext } from './deps.ts';
import { JobTaskStore } from './tasks/job-task-store.ts';
import { refuseBadParams } from './tasks/legacy-params.ts';
import { serveJobTasks } from './tasks/tasks-extension.ts';
import { registerCancelTool } from './tools/cancel.ts';
import { registerListTool } from './tools/list.ts';
import { registerPresetsTool } from './tools/presets.ts';
import { registerPreviewTool } from './tools/preview.ts';
import { registerResultTool } from './tools/result.ts';
import { registerStartTool, registerStartToolTask } from './tools/start.ts';
import { registerStatusTool } from './tools/status.ts';
import { type ToolHost, toolHostOf } from './tools/tool-host.ts';

export const SERVER_INFO = { name: 'sdbatch', version: '0.1.0' };

const INSTRUCTIONS =
  'Generate Stable Diffusion images in batches too large for one tool call: start a job, poll its status, ' +
  'then fetch presigned image URLs.';

// Every request builds a server (stateless transport); the SDK would otherwise construct and
// configure a fresh Ajv instance for each one, which cost more than the tool call itself.
const jsonSchemaValidator = new AjvJsonSchemaValidator();

/**
 * The MCP server for one 2025-era request's caller (initialize, protocol up to 2025-11-25), on the
 * 1.x SDK: its tasks are the 2025-11-25 core form VS Code uses, which the v2 SDK no longer serves.
 * It knows nothing of transports.
 */
export function buildServer(ctx: ToolContext): LegacyMcpServer {
  const server = new LegacyMcpServer(SERVER_INFO, {
    jsonSchemaValidator,
    // Tasks are the caller's jobs: tasks/get, tasks/result, tasks/list and tasks/cancel read the
    // jobs table, so any gateway instance answers them.
    taskStore: new JobTaskStore(ctx),
    capabilities: { tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } } },
    instructions: INSTRUCTIONS,
  });
  registerStartToolTask(server, ctx);
  registerCommonTools(toolHostOf(server), ctx);
  refuseBadParams(server.server);
  return server;
}

/**
 * The MCP server for one 2026-07-28 request's caller, on the v2 SDK, with the tasks extension
 * (io.modelcontextprotocol/tasks): declared in server/discover, read per request.
 */
export function buildModernServer(ctx: ToolContext): McpServer {
  const server = new McpServer(SERVER_INFO, { instructions: INSTRUCTIONS });
  registerStartTool(toolHostOf(server), ctx);
  registerCommonTools(toolHostOf(server), ctx);
  serveJobTasks(server, ctx);
  return server;
}

/** Every tool but the start tool, whose task form differs by era; in tools/list order. */
function registerCommonTools(host: ToolHost, ctx: ToolContext): void {
  registerStatusTool(host, ctx);
  registerResultTool(host, ctx);
  registerPreviewTool(host, ctx);
  registerCancelTool(host, ctx);
  registerListTool(host, ctx);
  registerPresetsTool(host, ctx);
}
