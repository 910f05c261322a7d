#!/usr/bin/env node
// The `sdbatch` command npm ci links into node_modules/.bin. Under npx the project's Node 24 is
// first on PATH and runs the TypeScript at once; run from a shell whose node is older (npm itself
// runs on Node 20+), the script is handed to the Node 24 that npm ci installed.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const script = new URL('./sdbatch.ts', import.meta.url);
if (Number(process.versions.node.split('.')[0]) >= 24) {
  await import(script.href);
} else {
  const node = fileURLToPath(new URL('../node_modules/node/bin/node', import.meta.url));
  const run = spawnSync(node, [fileURLToPath(script), ...process.argv.slice(2)], { stdio: 'inherit' });
  if (run.error) {
    console.error(`error: cannot run ${node} (${run.error.message}); run npm ci in the repository first`);
  }
  process.exitCode = run.status ?? 1;
}
