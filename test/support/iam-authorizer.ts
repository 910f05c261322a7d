import { readFileSync } from 'node:fs';
import { runSimulation } from '@cloud-copilot/iam-simulate';
import type { FunctionRole } from '../../lambdas/function-roles.ts';
import { type PolicySnapshot, SNAPSHOT_PATH } from '../../local/iam/policy-snapshot.ts';
import type { Authorize } from '../../local/store-front/front.ts';
import { LOCAL_ACCOUNT } from '../../local/store-front/requested-actions.ts';

/** This module's path: what a test stack passes as `iamAuthorizerModule`. */
export const IAM_AUTHORIZER_MODULE = new URL(import.meta.url).pathname;

/**
 * Each function role's requests evaluated against its policy in the committed snapshot (the one
 * test/infra/iam-snapshot.test.ts keeps equal to a fresh synth) by a real IAM policy evaluator.
 * iam-simulate is AGPL: only the tests load it, never `npm start` or a Lambda bundle.
 */
export function createAuthorizer(policies = readSnapshot()): Authorize {
  // A stack repeats the same few requests thousands of times; a decision depends on nothing else.
  const decided = new Map<string, Promise<boolean>>();
  return (role, request) => {
    const key = JSON.stringify([role, request.action, request.resource, request.context]);
    let decision = decided.get(key);
    if (!decision) {
      decision = evaluate(policies, role, request);
      decided.set(key, decision);
    }
    return decision;
  };
}

async function evaluate(
  policies: PolicySnapshot,
  role: FunctionRole,
  request: Parameters<Authorize>[1],
): Promise<boolean> {
  const result = await simulate(policies, role, request);
  // An action with no resource types (states:SendTaskSuccess, ...) is authorized on "*" alone: a
  // statement naming a resource never grants it, as in AWS.
  if (result.resultType === 'error' && JSON.stringify(result.errors).includes('must.use.wildcard')) {
    const onAll = await simulate(policies, role, { ...request, resource: '*' });
    return onAll.resultType !== 'error' && onAll.overallResult === 'Allowed';
  }
  if (result.resultType === 'error') {
    throw new Error(
      `IAM simulation of ${request.action} on ${request.resource} failed: ${JSON.stringify(result.errors)}`,
    );
  }
  return result.overallResult === 'Allowed';
}

function simulate(policies: PolicySnapshot, role: FunctionRole, request: Parameters<Authorize>[1]) {
  return runSimulation(
    {
      identityPolicies: [{ name: role, policy: policies[role] }],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      request: {
        action: request.action,
        principal: `arn:aws:iam::${LOCAL_ACCOUNT.accountId}:role/${role}`,
        resource: { accountId: LOCAL_ACCOUNT.accountId, resource: request.resource },
        contextVariables: request.context,
      },
    },
    {},
  );
}

function readSnapshot(): PolicySnapshot {
  return JSON.parse(readFileSync(SNAPSHOT_PATH, 'utf8')) as PolicySnapshot;
}
