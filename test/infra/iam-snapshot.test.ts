import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FUNCTION_ROLES } from '../../lambdas/function-roles.ts';
import { SNAPSHOT_PATH } from '../../local/iam/policy-snapshot.ts';
import { snapshotText, synthesizedPolicies } from '../../local/iam/write-snapshot.ts';

describe('the IAM policy snapshot the tests enforce', () => {
  it('is what a fresh synth grants each function (npm run iam-snapshot writes it anew)', () => {
    expect(readFileSync(SNAPSHOT_PATH, 'utf8')).toBe(snapshotText(synthesizedPolicies()));
  });

  it('holds every function role, each with its store and Step Functions grants', () => {
    const policies = JSON.parse(readFileSync(SNAPSHOT_PATH, 'utf8')) as Record<
      string,
      { Statement: { Action: string | string[] }[] }
    >;
    expect(Object.keys(policies).sort()).toEqual([...FUNCTION_ROLES].sort());
    for (const role of FUNCTION_ROLES) {
      const actions = policies[role]?.Statement.flatMap((s) => [s.Action].flat()) ?? [];
      expect(
        actions.some((a) => a.startsWith('dynamodb:')),
        role,
      ).toBe(true);
    }
  });
});
