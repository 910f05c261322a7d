import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { defineApp } from '../../cdk/define-app.ts';
import type { SdbatchStack } from '../../cdk/sdbatch-stack.ts';

/** cdk.json's context (feature flags, defaults): the tests synthesize what `cdk synth` would. */
const CDK_CONTEXT = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8'))
  .context as Record<string, unknown>;

export const TUNNEL_CONTEXT = { sdWebUiUrl: 'https://gpu.example.com' };

export const AUTH_SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:sdbatch/gpu-auth-AbC123';
export const VPC_CONTEXT = {
  sdWebUiUrl: 'http://10.0.1.23:7860',
  vpcId: 'vpc-0123456789abcdef0',
  subnetIds: 'subnet-0aaaaaaaaaaaaaaa1,subnet-0bbbbbbbbbbbbbbb2',
  routeTableIds: 'rtb-0aaaaaaaaaaaaaaa1,rtb-0bbbbbbbbbbbbbbb2',
  securityGroupId: 'sg-0123456789abcdef0',
  sdWebUiAuthSecretArn: AUTH_SECRET_ARN,
};

/** What cdk-nag left in the assembly's validation report: nothing, when the synth passed. */
export function nagViolations(assembly: CloudAssembly): unknown[] {
  const file = join(assembly.directory, 'validation-report.json');
  if (!existsSync(file)) return [];
  const report = JSON.parse(readFileSync(file, 'utf8')) as {
    pluginReports: { pluginName: string; violations: unknown[] }[];
  };
  return report.pluginReports.filter((r) => r.pluginName === 'AwsSolutions').flatMap((r) => r.violations);
}

export interface Synthesized {
  app: App;
  stack: SdbatchStack;
  assembly: CloudAssembly;
  template: Template;
  /** Deletes the cloud assembly directory. */
  dispose(): void;
}

/** A fresh app from cdk.json's context plus `context`; no esbuild unless `bundle` (it is slow). */
export function newApp(context: Record<string, unknown>, options: { bundle?: boolean } = {}): App {
  const skipBundling = options.bundle ? {} : { 'aws:cdk:bundling-stacks': [] };
  return new App({
    outdir: mkdtempSync(join(tmpdir(), 'sdbatch-cdk-')),
    context: { ...CDK_CONTEXT, ...context, ...skipBundling },
  });
}

/**
 * The app exactly as cdk/app.ts defines it (cdk-nag included), synthesized: a cdk-nag finding
 * makes app.synth() throw, so a returned assembly has none unacknowledged.
 */
export function synthesize(
  context: Record<string, unknown>,
  options: { bundle?: boolean } = {},
): Synthesized {
  const app = newApp(context, options);
  const stack = defineApp(app);
  const assembly = app.synth();
  return {
    app,
    stack,
    assembly,
    template: Template.fromStack(stack),
    dispose: () => rmSync(assembly.directory, { recursive: true, force: true }),
  };
}
