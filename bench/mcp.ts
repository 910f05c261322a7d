/** MCP clients of the gateway, as an assistant would connect: Streamable HTTP with the bearer token. */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { callOrThrow, connectGateway } from '../cli/gateway-client.ts';
import type { StatusView } from '../core/status-view.ts';
import type { ResultOutput } from '../mcp-gateway/tools/result.ts';
import type { StartOutput } from '../mcp-gateway/tools/start.ts';
import type { HostReady } from './protocol.ts';

export const connect = (host: HostReady, name = 'sdbatch-bench'): Promise<Client> =>
  connectGateway(host.mcpUrl, host.token, name);

/** One tool call; throws when the tool answers with an error. */
export const call = callOrThrow;

export type StartAnswer = StartOutput;
export type StatusAnswer = StatusView;
export type ResultAnswer = ResultOutput;

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
