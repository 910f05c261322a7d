import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENV, LOADER_VARIABLES } from '../../lambdas/config/env.ts';
import { FUNCTION_STATES } from '../../workflow/definition.ts';
import { type Synthesized, synthesize, TUNNEL_CONTEXT, VPC_CONTEXT } from './synth.ts';
import { envOf, gatewayFunction, taskFunction } from './template-queries.ts';

/** Set by the NodeFunction construct for the runtime, not read by a loader. */
const RUNTIME = new Set(['NODE_OPTIONS']);

const CONTEXTS = {
  tunnel: TUNNEL_CONTEXT,
  vpc: VPC_CONTEXT,
  'tunnel with a request limit': { ...TUNNEL_CONTEXT, hostRequestLimitSeconds: 100 },
  cognito: { ...TUNNEL_CONTEXT, oauth: 'cognito', cognitoDomainPrefix: 'sdbatch-test' },
  issuer: {
    ...TUNNEL_CONTEXT,
    oauthIssuer: 'https://auth.example.com',
    oauthAudience: 'https://mcp.example.com/mcp',
    oauthScope: 'sdbatch/tools',
    oauthJwksUrl: 'https://auth.example.com/jwks.json',
  },
};

function expectLoaderReads(
  environment: Record<string, unknown>,
  loader: { name: string; required: boolean }[],
  who: string,
) {
  const set = Object.keys(environment).filter((name) => !RUNTIME.has(name));
  const read = loader.map((v) => v.name);
  expect(
    set.filter((name) => !read.includes(name)),
    `${who} sets variables its loader never reads`,
  ).toEqual([]);
  const required = loader.filter((v) => v.required).map((v) => v.name);
  expect(
    required.filter((name) => !set.includes(name)),
    `${who} lacks variables its loader needs`,
  ).toEqual([]);
}

describe.each(Object.entries(CONTEXTS))('the environment the CDK app sets (%s)', (_, context) => {
  let synth: Synthesized;
  beforeAll(() => {
    synth = synthesize(context);
  });
  afterAll(() => synth?.dispose());

  it('is what the worker loader reads, for every task function', () => {
    for (const state of FUNCTION_STATES) {
      const [, fn] = taskFunction(synth.template, state);
      expectLoaderReads(envOf(fn), LOADER_VARIABLES.worker, state);
    }
  });

  it('is what the gateway loader reads', () => {
    const [, fn] = gatewayFunction(synth.template);
    expectLoaderReads(envOf(fn), LOADER_VARIABLES.gateway, 'the gateway');
  });
});

describe('a request limit in the context', () => {
  it('reaches the generate task as the variable its loader reads', () => {
    const synth = synthesize({ ...TUNNEL_CONTEXT, hostRequestLimitSeconds: 100 });
    try {
      const [, fn] = taskFunction(synth.template, 'Generate images');
      expect(envOf(fn)[ENV.hostRequestLimitSeconds]).toBe('100');
    } finally {
      synth.dispose();
    }
  });
});
