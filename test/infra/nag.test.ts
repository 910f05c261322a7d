import { rmSync } from 'node:fs';
import { type Acknowledgment, Validations } from 'aws-cdk-lib';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { defineApp } from '../../cdk/define-app.ts';
import { newApp, TUNNEL_CONTEXT, VPC_CONTEXT } from './synth.ts';

const MODES = { tunnel: TUNNEL_CONTEXT, vpc: VPC_CONTEXT };
const cleanup: string[] = [];
afterAll(() => {
  for (const dir of cleanup) rmSync(dir, { recursive: true, force: true });
});

interface Ack {
  path: string;
  id: string;
  reason: string;
}

/**
 * The app's acknowledgements, and what cdk-nag finds when none of them is recorded: the
 * acknowledge calls are captured instead of applied.
 */
function findingsWithoutAcknowledgements(context: Record<string, unknown>) {
  const acks: Ack[] = [];
  const spy = vi.spyOn(Validations.prototype, 'acknowledge').mockImplementation(function (
    this: Validations,
    ...rules: Acknowledgment[]
  ) {
    const scope = (this as unknown as { scope: IConstruct }).scope;
    for (const rule of rules) acks.push({ path: scope.node.path, id: rule.id, reason: rule.reason });
  });
  try {
    const app = newApp(context);
    defineApp(app);
    const findings = new AwsSolutionsChecks(app)
      .validateScope(app)
      .violations.flatMap((v) =>
        v.violatingResources.map((r) => ({ id: v.ruleName, path: r.constructPath ?? '' })),
      );
    return { acks: acks.filter((a) => a.id.startsWith('AwsSolutions-')), findings };
  } finally {
    spy.mockRestore();
  }
}

const covers = (ack: Ack, finding: { id: string; path: string }) =>
  ack.id === finding.id && (finding.path === ack.path || finding.path.startsWith(`${ack.path}/`));

describe.each(Object.entries(MODES))('cdk-nag AwsSolutions, %s mode', (_mode, context) => {
  it('has one acknowledgement per real finding, each with its reason, and nothing unacknowledged', () => {
    const { acks, findings } = findingsWithoutAcknowledgements(context);
    expect(findings.length).toBeGreaterThan(0);
    for (const finding of findings) {
      expect(
        acks.some((ack) => covers(ack, finding)),
        `unacknowledged ${finding.id} at ${finding.path}`,
      ).toBe(true);
    }
    for (const ack of acks) {
      expect(
        findings.some((finding) => covers(ack, finding)),
        `${ack.id} at ${ack.path} acknowledges nothing`,
      ).toBe(true);
      expect(ack.reason.length, `${ack.id} at ${ack.path}`).toBeGreaterThan(40);
    }
  });
});

describe('the cdk-nag plugin', () => {
  it('fails the synth on a finding nobody acknowledged', () => {
    const app = newApp(TUNNEL_CONTEXT);
    cleanup.push(app.outdir);
    const stack = defineApp(app);
    new Bucket(stack, 'CarelessBucket');
    expect(() => app.synth()).toThrow(/AwsSolutions-S1/);
  });
});
