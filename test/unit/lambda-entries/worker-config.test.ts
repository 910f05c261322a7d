import { describe, expect, it } from 'vitest';
import { ENV } from '../../../lambdas/config/env.ts';
import { sdHostHeaders } from '../../../lambdas/config/sd-host-auth.ts';
import { workerDepsFromEnv } from '../../../lambdas/entry/worker-runtime.ts';

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('workerDepsFromEnv', () => {
  it('fails at cold start naming every missing variable', async () => {
    await expect(workerDepsFromEnv({})).rejects.toThrow(
      /Worker configuration is invalid: SDBATCH_TABLE_NAME.*SDBATCH_BUCKET_NAME.*SD_WEBUI_URL/,
    );
  });

  it('reads the auth secret only when its ARN is set', async () => {
    const env = { [ENV.tableName]: 't', [ENV.bucketName]: 'b', [ENV.sdWebUiUrl]: 'https://gpu.example.com' };
    const read = async (id: string) => {
      throw new Error(`should not read ${id}`);
    };
    await expect(workerDepsFromEnv(env, read)).resolves.toHaveProperty('hosts');
    const arn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:x-AbC123';
    await expect(workerDepsFromEnv({ ...env, [ENV.sdWebUiAuthSecretArn]: arn }, read)).rejects.toThrow(
      `should not read ${arn}`,
    );
  });
});

describe("each host's request limit", () => {
  const env = {
    [ENV.tableName]: 't',
    [ENV.bucketName]: 'b',
    [ENV.sdWebUiUrl]: 'https://gpu1.example.com,https://gpu2.example.com',
    [ENV.hostDepth]: '2',
  };

  it('applies one value to every host, or one per URL where 0 means none', async () => {
    const all = await workerDepsFromEnv({ ...env, [ENV.hostRequestLimitSeconds]: '100' });
    expect([...(all.requestLimits ?? [])]).toEqual([
      ['gpu1.example.com', { seconds: 100, depth: 2 }],
      ['gpu2.example.com', { seconds: 100, depth: 2 }],
    ]);
    const one = await workerDepsFromEnv({ ...env, [ENV.hostRequestLimitSeconds]: '0,100' });
    expect([...(one.requestLimits ?? [])]).toEqual([['gpu2.example.com', { seconds: 100, depth: 2 }]]);
    expect((await workerDepsFromEnv(env)).requestLimits?.size).toBe(0);
  });

  it('fails at cold start when the list does not match the pool', async () => {
    await expect(workerDepsFromEnv({ ...env, [ENV.hostRequestLimitSeconds]: '100,100,100' })).rejects.toThrow(
      'SDBATCH_HOST_REQUEST_LIMIT_SECONDS: give one limit for every host or one per SD WebUI URL (2), in the same order',
    );
    await expect(workerDepsFromEnv({ ...env, [ENV.hostRequestLimitSeconds]: '-1' })).rejects.toThrow(
      'SDBATCH_HOST_REQUEST_LIMIT_SECONDS.0: each entry must be 0 (no limit) or more seconds',
    );
  });
});

describe('sdHostHeaders', () => {
  it('turns {username, password} into HTTP Basic for --api-auth', () => {
    expect(sdHostHeaders('{"username":"sd","password":"p:w"}')).toEqual({
      authorization: basic('sd', 'p:w'),
    });
  });

  it('passes extra headers through, e.g. a Cloudflare Access service token', () => {
    const secret = { headers: { 'CF-Access-Client-Id': 'id.access', 'CF-Access-Client-Secret': 's' } };
    expect(sdHostHeaders(JSON.stringify(secret))).toEqual(secret.headers);
  });

  it('combines both', () => {
    const secret = { username: 'u', password: 'p', headers: { 'x-tunnel': '1' } };
    expect(sdHostHeaders(JSON.stringify(secret))).toEqual({
      'x-tunnel': '1',
      authorization: basic('u', 'p'),
    });
  });

  it('rejects what it cannot use, without quoting the secret', () => {
    for (const text of ['hunter2-not-json', '{"username":"hunter2"}', '{}', '{"headers":{"a":1}}']) {
      let message = '';
      try {
        sdHostHeaders(text);
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message, text).toMatch(/^The SD WebUI auth secret/);
      expect(message, text).not.toContain('hunter2');
    }
  });
});
