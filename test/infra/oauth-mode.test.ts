import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENV } from '../../lambdas/config/env.ts';
import { type Synthesized, synthesize, TUNNEL_CONTEXT } from './synth.ts';
import { envOf, gatewayFunction, resources } from './template-queries.ts';

let synth: Synthesized;
beforeAll(() => {
  // cdk-nag runs in synthesize: a finding without a reason would throw here.
  synth = synthesize({ ...TUNNEL_CONTEXT, oauth: 'cognito', cognitoDomainPrefix: 'sdbatch-test' });
});
afterAll(() => synth?.dispose());

describe('OAuth mode with a Cognito user pool', () => {
  it('creates an invite-only pool with a hosted domain, the sdbatch/tools scope and a PKCE public client', () => {
    const [pool] = Object.values(resources(synth.template, 'AWS::Cognito::UserPool'));
    expect(pool?.Properties).toMatchObject({
      AdminCreateUserConfig: { AllowAdminCreateUserOnly: true },
      MfaConfiguration: 'OPTIONAL',
    });
    synth.template.hasResourceProperties('AWS::Cognito::UserPoolDomain', { Domain: 'sdbatch-test' });
    synth.template.hasResourceProperties('AWS::Cognito::UserPoolResourceServer', {
      Identifier: 'sdbatch',
      Scopes: [{ ScopeName: 'tools', ScopeDescription: 'Call the sdbatch tools' }],
    });
    const [client] = Object.values(resources(synth.template, 'AWS::Cognito::UserPoolClient'));
    expect(client?.Properties).toMatchObject({
      GenerateSecret: false,
      AllowedOAuthFlows: ['code'],
      CallbackURLs: ['https://claude.ai/api/mcp/auth_callback'],
    });
    // The resource-server scope is a token: <identifier>/tools.
    expect(JSON.stringify(client?.Properties.AllowedOAuthScopes)).toMatch(/openid.*\/tools/);
  });

  it('points the gateway at the pool as issuer, with its client id standing in for the audience', () => {
    const env = envOf(gatewayFunction(synth.template)[1]);
    expect(JSON.stringify(env[ENV.oauthIssuer])).toContain('cognito-idp.');
    expect(env[ENV.oauthClientIds]).toEqual({ Ref: expect.stringMatching(/McpClient/) });
    expect(env[ENV.oauthScope]).toBe('sdbatch/tools');
  });
});

describe('token mode (the default)', () => {
  it('creates no user pool and sets no OAuth variable', () => {
    const plain = synthesize(TUNNEL_CONTEXT);
    try {
      expect(Object.keys(resources(plain.template, 'AWS::Cognito::UserPool'))).toHaveLength(0);
      expect(envOf(gatewayFunction(plain.template)[1])[ENV.oauthIssuer]).toBeUndefined();
    } finally {
      plain.dispose();
    }
  });
});
