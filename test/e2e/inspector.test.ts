import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EmbeddedStack } from '../../local/stack.ts';
import { openTestStack, sleep, TOOL_NAMES } from '../support/embedded.ts';

const run = promisify(execFile);
let stack: EmbeddedStack;
let close: () => Promise<void>;

beforeAll(async () => {
  ({ stack, close } = await openTestStack());
});
afterAll(() => close?.());

/** The official MCP Inspector CLI, as the README tells people to run it against the stack. */
async function inspector(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(
    'node_modules/.bin/mcp-inspector',
    [
      '--cli',
      stack.mcpUrl,
      '--transport',
      'http',
      '--header',
      `Authorization: Bearer ${stack.token}`,
      ...args,
    ],
    { timeout: 60_000 },
  );
}

const call = async (tool: string, args: Record<string, unknown> = {}) => {
  const { stdout } = await inspector(
    '--method',
    'tools/call',
    '--tool-name',
    tool,
    '--tool-args-json',
    JSON.stringify(args),
    '--format',
    'json',
  );
  const { result } = JSON.parse(stdout) as {
    result: { isError?: boolean; structuredContent: Record<string, unknown> };
  };
  expect(result.isError, `${tool}: ${stdout.slice(0, 300)}`).toBeFalsy();
  return result.structuredContent;
};

describe('the MCP Inspector CLI against the embedded stack', () => {
  it('lists every tool, with no schema portability findings (errors or warnings) under --strict', async () => {
    // --strict puts the findings in the JSON envelope and lists them on stderr; with none it adds
    // neither (and prints no "0 errors" line either).
    const { stdout, stderr } = await inspector('--method', 'tools/list', '--strict', '--format', 'json');
    const { result, schemaFindings } = JSON.parse(stdout) as {
      result: { tools: Array<{ name: string }> };
      schemaFindings?: unknown[];
    };
    expect(result.tools.map((t) => t.name).sort()).toEqual(TOOL_NAMES);
    expect(schemaFindings ?? [], JSON.stringify(schemaFindings)).toEqual([]);
    expect(stderr).not.toMatch(/Warning:|Error:|portability/);
  });

  it('calls every tool', async () => {
    expect((await call('sdreforge_presets')).default_preset).toBe('txt2img_default');
    const started = await call('sdreforge_batch_start', {
      prompt: 'inspected',
      n_iter: 2,
      steps: 2,
      width: 64,
      height: 64,
    });
    const jobId = String(started.job_id);
    let status = '';
    for (let i = 0; i < 50 && status !== 'completed'; i++) {
      status = String((await call('sdreforge_batch_status', { job_id: jobId })).status);
      if (status !== 'completed') await sleep(100);
    }
    expect(status).toBe('completed');
    expect(
      (await call('sdreforge_batch_result', { job_id: jobId, contact_sheet: 'omit' })).files,
    ).toHaveLength(2);
    expect(
      ((await call('sdreforge_batch_list', { limit: 5 })).jobs as unknown[]).length,
    ).toBeGreaterThanOrEqual(1);
    expect(await call('sdreforge_batch_cancel', { job_id: jobId })).toMatchObject({
      cancelled: false,
      status: 'completed',
    });
  });
});
