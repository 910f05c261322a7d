import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nagViolations, type Synthesized, synthesize, TUNNEL_CONTEXT } from './synth.ts';
import { resources } from './template-queries.ts';

// The one synth that runs esbuild (five bundles) like `cdk synth`; the other infra tests skip it.
let synth: Synthesized;
beforeAll(() => {
  synth = synthesize(TUNNEL_CONTEXT, { bundle: true });
}, 120_000);
afterAll(() => synth?.dispose());

/** Each function's description and the directory of its bundle in the cloud assembly. */
const bundles = () =>
  Object.values(resources(synth.template, 'AWS::Lambda::Function')).map((fn) => {
    // The code's S3 key is <asset hash>.zip; the assembly stages it as asset.<asset hash>/.
    const key = String((fn.Properties.Code as { S3Key: string }).S3Key);
    return {
      name: String(fn.Properties.Description),
      dir: join(synth.assembly.directory, `asset.${key.replace(/\.zip$/, '')}`),
    };
  });

/** Imports a bundle in a fresh Node with an empty environment, as a misconfigured Lambda would. */
function coldStartWithoutConfig(dir: string): string {
  const url = pathToFileURL(join(dir, 'index.mjs')).href;
  const run = spawnSync(
    process.execPath,
    ['--input-type=module', '-e', `await import(${JSON.stringify(url)})`],
    {
      env: { PATH: process.env.PATH ?? '' },
      encoding: 'utf8',
      timeout: 30_000,
    },
  );
  return run.stderr;
}

describe('`cdk synth` in tunnel mode', () => {
  it('passes cdk-nag: no finding left in the validation report', () => {
    expect(nagViolations(synth.assembly)).toEqual([]);
  });
});

describe('the esbuild bundles', () => {
  it('are ESM with the createRequire banner and a source map, one per function', () => {
    expect(bundles()).toHaveLength(6);
    for (const { name, dir } of bundles()) {
      const code = readFileSync(join(dir, 'index.mjs'), 'utf8');
      expect(
        code.startsWith("import { createRequire as __sdbatchCreateRequire } from 'node:module';"),
        name,
      ).toBe(true);
      expect(existsSync(join(dir, 'index.mjs.map')), name).toBe(true);
    }
  });

  it('ship the presets beside the gateway bundle', () => {
    const gateway = bundles().find((b) => b.name.includes('MCP gateway'));
    expect(
      readdirSync(join(gateway?.dir ?? '', 'presets')).filter((f) => f.endsWith('.yaml')).length,
    ).toBeGreaterThan(0);
  });

  it('load on Node 24 and fail at cold start naming the missing variables', () => {
    for (const { name, dir } of bundles()) {
      const stderr = coldStartWithoutConfig(dir);
      const who = name.includes('MCP gateway') ? 'Gateway' : 'Worker';
      expect(stderr, name).toContain(`${who} configuration is invalid: SDBATCH_TABLE_NAME`);
    }
  }, 60_000);
});
