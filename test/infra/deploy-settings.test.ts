import { App } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { readDeploySettings } from '../../cdk/deploy-settings.ts';
import { AUTH_SECRET_ARN, VPC_CONTEXT } from './synth.ts';

const read = (context: Record<string, unknown>) => readDeploySettings(new App({ context }).node);

describe('readDeploySettings', () => {
  it('is tunnel mode with an https URL and the defaults', () => {
    expect(read({ sdWebUiUrl: 'https://gpu.example.com' })).toEqual({
      mode: 'tunnel',
      sdWebUiUrl: 'https://gpu.example.com',
      retentionDays: 7,
      hostDepth: 2,
      generateMemoryMb: 256,
      concurrency: 2,
      gpuHosts: 1,
      workersReachInternet: true,
      oauthCallbackUrls: ['https://claude.ai/api/mcp/auth_callback'],
    });
  });

  it('takes a pool of hosts as a comma list: one slot per host and depth', () => {
    expect(
      read({ sdWebUiUrl: 'https://gpu1.example.com, https://gpu2.example.com', hostDepth: '3' }),
    ).toMatchObject({
      gpuHosts: 2,
      hostDepth: 3,
      concurrency: 6,
    });
    expect(() => read({ sdWebUiUrl: 'https://gpu1.example.com,http://gpu2.example.com' })).toThrow(/https/);
  });

  it("takes each host's request limit: one for every host (a number in cdk.json) or one per URL", () => {
    const pool = 'https://gpu1.example.com,https://gpu2.example.com';
    expect(read({ sdWebUiUrl: pool, hostRequestLimitSeconds: 100 })).toMatchObject({
      hostRequestLimitSeconds: [100],
    });
    expect(read({ sdWebUiUrl: pool, hostRequestLimitSeconds: '100, 0' })).toMatchObject({
      hostRequestLimitSeconds: [100, 0],
    });
    expect(() => read({ sdWebUiUrl: pool, hostRequestLimitSeconds: '100,100,100' })).toThrow(
      /hostRequestLimitSeconds: give one limit for every host or one per SD WebUI URL \(2\)/,
    );
    expect(() => read({ sdWebUiUrl: pool, hostRequestLimitSeconds: '100s' })).toThrow(
      /hostRequestLimitSeconds\.0: each entry must be a number of seconds/,
    );
  });

  it('is VPC mode when vpcId is set, taking lists as comma strings (-c) or arrays (cdk.json)', () => {
    const fromCli = read({ ...VPC_CONTEXT, createVpcEndpoints: 'false', concurrency: '4' });
    expect(fromCli).toMatchObject({
      mode: 'vpc',
      subnetIds: ['subnet-0aaaaaaaaaaaaaaa1', 'subnet-0bbbbbbbbbbbbbbb2'],
      createVpcEndpoints: false,
      concurrency: 4,
      vpcInternetAccess: false,
      workersReachInternet: false,
      sdWebUiAuthSecretArn: AUTH_SECRET_ARN,
    });
    const fromJson = read({
      ...VPC_CONTEXT,
      subnetIds: ['subnet-0aaaaaaaaaaaaaaa1'],
      routeTableIds: ['rtb-0aaaaaaaaaaaaaaa1'],
    });
    expect(fromJson).toMatchObject({ subnetIds: ['subnet-0aaaaaaaaaaaaaaa1'], createVpcEndpoints: true });
  });

  it.each([
    [{}, /Set the GPU host: cdk deploy -c sdWebUiUrl=/],
    [{ sdWebUiUrl: 'http://gpu.example.com' }, /tunnel mode needs an https:\/\/ sdWebUiUrl/],
    [
      { sdWebUiUrl: 'https://gpu.example.com', subnetIds: 'subnet-0aaaaaaaaaaaaaaa1' },
      /only apply in VPC mode/,
    ],
    [{ sdWebUiUrl: 'https://gpu.example.com', vpcInternetAccess: 'true' }, /vpcInternetAccess only apply/],
    [{ ...VPC_CONTEXT, routeTableIds: 'rtb-0aaaaaaaaaaaaaaa1' }, /one route table id per subnet id/],
    [{ ...VPC_CONTEXT, securityGroupId: 'sg-12' }, /securityGroupId: expected sg-/],
    [
      { ...VPC_CONTEXT, sdWebUiAuthSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:gpu' },
      /complete secret ARN/,
    ],
    [{ sdWebUiUrl: 'https://gpu.example.com', retentionDays: '0' }, /retentionDays/],
    [{ sdWebUiUrl: 'https://gpu.example.com', generateMemoryMb: '64' }, /generateMemoryMb.*128/],
  ])('rejects %j with a message that says what to fix', (context, message) => {
    expect(() => read(context)).toThrow(message);
  });
});

describe('OAuth context values', () => {
  it('need the audience with the issuer', () => {
    expect(() =>
      read({ sdWebUiUrl: 'https://gpu.example.com', oauthIssuer: 'https://auth.example.com' }),
    ).toThrow(/oauthAudience/);
    expect(
      read({
        sdWebUiUrl: 'https://gpu.example.com',
        oauthIssuer: 'https://auth.example.com',
        oauthAudience: 'https://abc.lambda-url.eu-west-1.on.aws/mcp',
      }),
    ).toMatchObject({ oauthIssuer: 'https://auth.example.com' });
  });
});
