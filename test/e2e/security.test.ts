import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadLocalConfig } from '../../local/config.ts';
import type { EmbeddedStack } from '../../local/stack.ts';
import { callTool, connectClient, sleep, startTestStack } from '../support/embedded.ts';
import { tempDir } from '../support/temp-dir.ts';

const run = promisify(execFile);
let dir: Awaited<ReturnType<typeof tempDir>>;
let stack: EmbeddedStack;
let admin: Client;

/** The `sdbatch` CLI as a user runs it, against this stack. */
async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      ['cli/sdbatch.ts', ...args, '--url', stack.mcpUrl],
      {
        env: { ...process.env, SDBATCH_TOKEN: stack.token },
      },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const post = (headers: Record<string, string>, body: string) =>
  fetch(stack.mcpUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...headers,
    },
    body,
  });
const ping = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' });
const text = (result: { content: unknown }) => (result.content as Array<{ text: string }>)[0]?.text ?? '';

beforeAll(async () => {
  dir = await tempDir();
  stack = await startTestStack(dir.path);
  admin = await connectClient(stack);
});
afterAll(async () => {
  await admin?.close();
  await stack?.stop();
  await dir.remove();
});

describe('named tokens', () => {
  it('are created, listed and revoked with the CLI, stored only as digests', async () => {
    const created = await cli('token', 'create', 'carol', '--json');
    expect(created.code).toBe(0);
    const { token } = JSON.parse(created.stdout) as { token: string };
    expect(token).toMatch(/^sdb_/);
    expect((await post({ authorization: `Bearer ${token}` }, ping)).status).toBe(200);

    const listed = JSON.parse((await cli('token', 'list', '--json')).stdout) as {
      tokens: Array<{ name: string }>;
    };
    expect(listed.tokens.map((t) => t.name)).toContain('carol');
    expect(JSON.stringify(listed)).not.toContain(token);
    const { ScanCommand } = await import('@aws-sdk/lib-dynamodb');
    const { documentClient } = await import('../../adapters/aws-clients.ts');
    const { Items = [] } = await documentClient(stack.stores.clients).send(
      new ScanCommand({ TableName: stack.stores.tableName }),
    );
    expect(JSON.stringify(Items)).not.toContain(token);

    expect((await cli('token', 'create', 'carol')).code).toBe(1);
    expect((await cli('token', 'revoke', 'carol')).code).toBe(0);
    const revoked = await post({ authorization: `Bearer ${token}` }, ping);
    expect(revoked.status).toBe(401);
    expect(revoked.headers.get('www-authenticate')).toBe('Bearer');
  });

  it('cannot manage tokens without the admin token', async () => {
    const { token } = JSON.parse((await cli('token', 'create', 'dave', '--json')).stdout) as {
      token: string;
    };
    const response = await fetch(new URL('/admin/tokens', stack.mcpUrl), {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(response.status).toBe(403);
    expect((await fetch(new URL('/admin/tokens', stack.mcpUrl))).status).toBe(401);
  });
});

describe('tenancy', () => {
  it("answers every tool on another caller's job exactly as for a job that does not exist", async () => {
    const { token: erin } = JSON.parse((await cli('token', 'create', 'erin', '--json')).stdout) as {
      token: string;
    };
    const other = await connectClient(stack, erin);
    const { data } = await callTool<{ job_id: string }>(admin, 'sdreforge_batch_start', {
      prompt: 'mine',
      steps: 1,
      width: 64,
      height: 64,
    });
    const missing = 'job_20261124_zzzzzzzzzz';
    for (const tool of ['sdreforge_batch_status', 'sdreforge_batch_result', 'sdreforge_batch_cancel']) {
      const theirs = await callTool(other, tool, { job_id: data.job_id });
      const none = await callTool(other, tool, { job_id: missing });
      expect(theirs.result.isError, tool).toBe(true);
      expect(text(theirs.result).replace(data.job_id, 'ID')).toBe(text(none.result).replace(missing, 'ID'));
    }
    const { data: list } = await callTool<{ jobs: Array<{ job_id: string }> }>(
      other,
      'sdreforge_batch_list',
      {},
    );
    expect(list.jobs.map((j) => j.job_id)).not.toContain(data.job_id);
    const foreignKey = await callTool(other, 'sdreforge_batch_start', {
      prompt: 'steal',
      controlnet: [{ model: 'control_v11p_sd15_canny', image_key: `jobs/${data.job_id}/000-0.png` }],
    });
    expect(text(foreignKey.result)).toMatch(
      /controlnet\.0\.image_key: not an image or input of one of your jobs/,
    );
    // The owner's job is untouched by the other caller's cancel.
    for (let i = 0; i < 200; i++) {
      const { data: s } = await callTool<{ status: string }>(admin, 'sdreforge_batch_status', {
        job_id: data.job_id,
      });
      if (s.status === 'completed') break;
      await sleep(20);
    }
    const { data: after } = await callTool<{ status: string }>(admin, 'sdreforge_batch_status', {
      job_id: data.job_id,
    });
    expect(after.status).toBe('completed');
    await other.close();
  });
});

describe('the embedded gateway', () => {
  it('refuses DNS-rebinding Host headers and foreign Origins', async () => {
    const auth = { authorization: `Bearer ${stack.token}` };
    const port = new URL(stack.mcpUrl).port;
    // fetch sets Host from the URL; a raw request lets the test send a rebinding one.
    const { request } = await import('node:http');
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        stack.mcpUrl,
        {
          method: 'POST',
          headers: { ...auth, host: `evil.example.com:${port}`, 'content-type': 'application/json' },
        },
        (res) => resolve(res.statusCode ?? 0),
      );
      req.on('error', reject);
      req.end(ping);
    });
    expect(status).toBe(403);
    expect((await post({ ...auth, origin: 'http://evil.example.com' }, ping)).status).toBe(403);
    expect((await post({ ...auth, origin: `http://localhost:${port}` }, ping)).status).toBe(200);
  });

  it('refuses to bind beyond loopback without a chosen token', () => {
    expect(() => loadLocalConfig({ SDBATCH_HOST: '0.0.0.0' })).toThrow(
      /SDBATCH_HOST: 0\.0\.0\.0 is not a loopback address; set SDBATCH_TOKEN/,
    );
    expect(
      loadLocalConfig({ SDBATCH_HOST: '0.0.0.0', SDBATCH_TOKEN: 'a-long-chosen-token-1234' }).SDBATCH_HOST,
    ).toBe('0.0.0.0');
  });
});

describe('input hardening', () => {
  const auth = () => ({ authorization: `Bearer ${stack.token}` });

  it('caps JSON nesting and body size', async () => {
    const deep = `${'['.repeat(100)}${']'.repeat(100)}`;
    const nested = await post(auth(), `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":${deep}}}`);
    expect(nested.status).toBe(400);
    expect(await nested.text()).toMatch(/nested deeper than 32/);
    const big = await post(
      auth(),
      JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping', params: { p: 'x'.repeat(9e6) } }),
    );
    expect(big.status).toBe(413);
    expect(big.headers.get('connection')).toBe('close');
    // The next requests get through: the refused body did not poison a kept-alive connection.
    for (let i = 0; i < 3; i++) expect((await post(auth(), ping)).status).toBe(200);
  });

  it('never shows callers stack traces, and never logs tokens', async () => {
    const logged: string[] = [];
    const capture = (...args: unknown[]) => {
      logged.push(args.map((a) => (a instanceof Error ? `${a.message}\n${a.stack}` : String(a))).join(' '));
    };
    const spies = (['log', 'info', 'warn', 'error'] as const).map((m) =>
      vi.spyOn(console, m).mockImplementation(capture),
    );
    const original = stack.deps.jobs.get.bind(stack.deps.jobs);
    stack.deps.jobs.get = async () => {
      throw new Error('disk on fire');
    };
    try {
      const { result } = await callTool(admin, 'sdreforge_batch_status', {
        job_id: 'job_20261124_aaaaaaaaaa',
      });
      expect(result.isError).toBe(true);
      expect(text(result)).toBe('Internal error in sdbatch; the request may be retried.');
      expect(JSON.stringify(result)).not.toMatch(/disk on fire|at .*\.ts:\d+/);
      await post({ authorization: 'Bearer sdb_wrong_token_that_should_not_be_logged' }, ping);
    } finally {
      stack.deps.jobs.get = original;
      for (const spy of spies) spy.mockRestore();
    }
    expect(logged.join('\n')).toContain('disk on fire');
    expect(logged.join('\n')).not.toContain(stack.token);
    expect(logged.join('\n')).not.toContain('sdb_wrong_token_that_should_not_be_logged');
  });
});
