import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { documentClient } from '../../adapters/aws-clients.ts';
import { callTool, connectGateway } from '../../cli/gateway-client.ts';
import { isTerminal, JobStatus } from '../../core/job-status.ts';
import { loadLocalConfig } from '../../local/config.ts';
import { type EmbeddedStack, type StackOverrides, startEmbeddedStack } from '../../local/stack.ts';
import { IAM_AUTHORIZER_MODULE } from './iam-authorizer.ts';
import { tempDir } from './temp-dir.ts';

/**
 * An embedded stack on free ports with a fast simulator, as `npm start` would run it, with every
 * function's store and Step Functions calls held to the IAM policy the CDK app synthesizes.
 */
export async function startTestStack(
  dataDir: string,
  env: Record<string, string> = {},
  overrides: StackOverrides = {},
): Promise<EmbeddedStack> {
  const config = loadLocalConfig({
    SDBATCH_PORT: '0',
    SDBATCH_DATA_DIR: dataDir,
    SDBATCH_SIM_STEP_MS: '2',
    ...env,
  });
  return startEmbeddedStack(config, {
    // Index 0 is the wait for a GPU slot: short but not a busy loop; the others retry at once.
    retryIntervalOverrides: { 'Generate images': [0.02, 0, 0] },
    progressPollMs: 20,
    retryFirstDelayMs: 0,
    iamAuthorizerModule: IAM_AUTHORIZER_MODULE,
    ...overrides,
  });
}

/** The official MCP client over Streamable HTTP with the stack's bearer token. */
export const connectClient = (stack: EmbeddedStack, token = stack.token): Promise<Client> =>
  connectGateway(stack.mcpUrl, token, 'sdbatch-test');

/** A second caller: a named token made through the admin routes with the stack's own token. */
export async function otherCallerToken(stack: EmbeddedStack, name: string): Promise<string> {
  const response = await fetch(new URL('/admin/tokens', stack.mcpUrl), {
    method: 'POST',
    headers: { authorization: `Bearer ${stack.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name }),
  });
  if (response.status !== 201) throw new Error(`creating token ${name} answered ${response.status}`);
  return ((await response.json()) as { token: string }).token;
}

export { callTool };

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Every tool the gateway lists, sorted: written out here, so a tool lost from the server fails the tests. */
export const TOOL_NAMES = [
  'sdreforge_batch_cancel',
  'sdreforge_batch_list',
  'sdreforge_batch_preview',
  'sdreforge_batch_result',
  'sdreforge_batch_start',
  'sdreforge_batch_status',
  'sdreforge_presets',
];

/** The statuses a job ends in, from the core's transition table. */
export const TERMINAL_STATUSES: string[] = JobStatus.options.filter(isTerminal);

/** Polls sdreforge_batch_status until the job ends; throws after `timeoutMs`. */
export async function waitForTerminal<T extends { status: string }>(
  client: Client,
  jobId: string,
  options: { timeoutMs?: number; pollMs?: number; onStatus?: (s: T) => void } = {},
): Promise<T> {
  const { timeoutMs = 30_000, pollMs = 25, onStatus } = options;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { data } = await callTool<T>(client, 'sdreforge_batch_status', { job_id: jobId });
    onStatus?.(data);
    if (TERMINAL_STATUSES.includes(data.status)) return data;
    if (Date.now() > deadline) throw new Error(`${jobId} still ${data.status} after ${timeoutMs} ms`);
    await sleep(pollMs);
  }
}

/** Job items in the stack's table, read through the SDK: proof that a refused call created nothing. */
export async function jobItemCount(stack: EmbeddedStack): Promise<number> {
  const db = documentClient(stack.stores.clients);
  const { Items = [] } = await db.send(
    new ScanCommand({ TableName: stack.stores.tableName, ConsistentRead: true }),
  );
  db.destroy();
  return Items.filter((item) => item.sk === 'JOB').length;
}

/**
 * A stack in a fresh data dir with a connected client, and one call that closes all of it: the
 * set-up most end-to-end files share.
 */
export async function openTestStack(
  env: Record<string, string> = {},
  overrides: StackOverrides = {},
): Promise<{ stack: EmbeddedStack; client: Client; close: () => Promise<void> }> {
  const dir = await tempDir();
  const stack = await startTestStack(dir.path, env, overrides);
  const client = await connectClient(stack);
  return {
    stack,
    client,
    close: async () => {
      await client.close();
      await stack.stop();
      await dir.remove();
    },
  };
}
