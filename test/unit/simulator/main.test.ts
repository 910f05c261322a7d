import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { readSimulatorConfig } from '../../../local/simulator/config.ts';

const MAIN = new URL('../../../local/simulator/main.ts', import.meta.url).pathname;

describe('simulator config', () => {
  it('defaults to 127.0.0.1:7861, 50 ms steps and the reforge flavour', () => {
    expect(readSimulatorConfig({})).toEqual({
      host: '127.0.0.1',
      port: 7861,
      stepMs: 50,
      flavour: 'reforge',
    });
    expect(
      readSimulatorConfig({
        SDBATCH_SIM_PORT: '0',
        SDBATCH_SIM_HOST: '0.0.0.0',
        SDBATCH_SIM_STEP_MS: '2.5',
        SDBATCH_SIM_FLAVOUR: 'a1111-1.8',
      }),
    ).toEqual({ host: '0.0.0.0', port: 0, stepMs: 2.5, flavour: 'a1111-1.8' });
  });

  it.each([
    ['SDBATCH_SIM_PORT', 'abc'],
    ['SDBATCH_SIM_PORT', '70000'],
    ['SDBATCH_SIM_STEP_MS', '-5'],
    ['SDBATCH_SIM_HOST', 'bad host'],
    ['SDBATCH_SIM_FLAVOUR', 'a1111-1.5'],
  ])('refuses %s=%j with a message naming it', (name, value) => {
    expect(() => readSimulatorConfig({ [name]: value })).toThrow(name);
  });
});

describe('simulator main', () => {
  it('exits 2 with the variable named on a bad value', () => {
    const env = { ...process.env, SDBATCH_SIM_PORT: 'abc' };
    const run = spawnSync(process.execPath, [MAIN], { env, encoding: 'utf8' });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('SDBATCH_SIM_PORT');
  });

  it('prints its URL, serves, and stops cleanly on SIGTERM', async () => {
    const child = spawn(process.execPath, [MAIN], {
      env: { ...process.env, SDBATCH_SIM_PORT: '0', SDBATCH_SIM_STEP_MS: '1' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const [line] = (await once(child.stdout, 'data')) as [Buffer];
    const url = /http:\/\/\S+/.exec(line.toString())?.[0];
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(await (await fetch(`${url}/internal/ping`)).json()).toEqual({});
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
  });
});
