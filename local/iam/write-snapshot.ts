import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { defineApp } from '../../cdk/define-app.ts';
import { BUCKET_NAME, TABLE_NAME } from '../embedded-stores.ts';
import { type PolicySnapshot, policySnapshot, SNAPSHOT_PATH } from './policy-snapshot.ts';

/** A tunnel-mode synth with cdk.json's context: the policies every deployment has. */
export const SNAPSHOT_CONTEXT = { sdWebUiUrl: 'https://gpu.example.com' };

/** The policies a fresh synth gives, as the snapshot holds them. */
export function synthesizedPolicies(): PolicySnapshot {
  const { context } = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as {
    context: Record<string, unknown>;
  };
  const outdir = mkdtempSync(join(tmpdir(), 'sdbatch-iam-'));
  try {
    const app = new App({
      outdir,
      context: { ...context, ...SNAPSHOT_CONTEXT, 'aws:cdk:bundling-stacks': [] },
    });
    const stack = defineApp(app);
    const template = Template.fromStack(stack).toJSON() as Parameters<typeof policySnapshot>[0];
    return policySnapshot(template, { tableName: TABLE_NAME, bucketName: BUCKET_NAME });
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

export const snapshotText = (policies: PolicySnapshot): string => `${JSON.stringify(policies, null, 2)}\n`;

// `npm run iam-snapshot`: write it after a change to what the CDK app grants.
if (import.meta.url === `file://${process.argv[1]}`) {
  writeFileSync(SNAPSHOT_PATH, snapshotText(synthesizedPolicies()));
  console.log(`wrote ${SNAPSHOT_PATH.pathname}`);
}
