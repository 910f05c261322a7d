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
    // The message alone: Node would print the whole minified line that threw before it, and a
    // slow, busy machine can end the process before a pipe takes that much.
    [
      '--input-type=module',
      '-e',
      `try { await import(${JSON.stringify(url)}) } catch (e) { console.error(e.message); process.exitCode = 1 }`,
    ],
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

  it('carry sharp’s WebAssembly build, the same from any machine, and no native build of the one that bundled them', () => {
    // This machine installed sharp's linux-x64 binaries; a Mac would have installed darwin's.
    // Neither may reach the asset: only the platform-independent WebAssembly build does.
    const sheetUsers = bundles().filter(
      (b) => b.name.includes('Render contact sheet') || b.name.includes('MCP gateway'),
    );
    expect(sheetUsers).toHaveLength(2);
    for (const { name, dir } of sheetUsers) {
      const img = readdirSync(join(dir, 'node_modules', '@img')).sort();
      expect(img, name).toEqual(['colour', 'sharp-wasm32']);
      expect(existsSync(join(dir, 'node_modules', 'sharp', 'package.json')), name).toBe(true);
    }
    // Loaded from the asset alone, sharp runs its WebAssembly build and draws.
    const sheet = sheetUsers.find((b) => b.name.includes('Render contact sheet'));
    const probe = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const { default: sharp } = await import(${JSON.stringify(pathToFileURL(join(sheet?.dir ?? '', 'node_modules', 'sharp', 'dist', 'index.mjs')).href)});
         const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#123456' } }).png().toBuffer();
         console.log(JSON.stringify({ wasm: 'emscripten' in sharp.versions, png: png.subarray(1, 4).toString() }));`,
      ],
      { encoding: 'utf8', timeout: 60_000 },
    );
    expect(JSON.parse(probe.stdout.trim().split('\n').at(-1) ?? '{}'), probe.stderr).toEqual({
      wasm: true,
      png: 'PNG',
    });
  }, 90_000);

  it('load on Node 24 and fail at cold start naming the missing variables', () => {
    for (const { name, dir } of bundles()) {
      const stderr = coldStartWithoutConfig(dir);
      const who = name.includes('MCP gateway') ? 'Gateway' : 'Worker';
      expect(stderr, name).toContain(`${who} configuration is invalid: SDBATCH_TABLE_NAME`);
    }
  }, 60_000);
});
