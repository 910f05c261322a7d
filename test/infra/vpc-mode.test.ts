import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENV } from '../../lambdas/config/env.ts';
import { FUNCTION_STATES } from '../../workflow/definition.ts';
import { AUTH_SECRET_ARN, nagViolations, type Synthesized, synthesize, VPC_CONTEXT } from './synth.ts';
import {
  allActions,
  envOf,
  gatewayFunction,
  resources,
  roleIdOf,
  statementsOfFunction,
  taskFunction,
} from './template-queries.ts';

let vpc: Synthesized;
let noEndpoints: Synthesized;
beforeAll(() => {
  vpc = synthesize({ ...VPC_CONTEXT, retentionDays: '3', generateMemoryMb: '512' });
  // A VPC that reaches everything itself: endpoints of its own, or a NAT gateway.
  noEndpoints = synthesize({
    ...VPC_CONTEXT,
    sdWebUiAuthSecretArn: undefined,
    createVpcEndpoints: 'false',
    vpcInternetAccess: 'true',
  });
});
afterAll(() => {
  vpc?.dispose();
  noEndpoints?.dispose();
});

const BOOKKEEPING = FUNCTION_STATES.filter((s) => s !== 'Generate images');

describe('VPC mode', () => {
  it('passes cdk-nag: no finding left in the validation report', () => {
    expect(nagViolations(vpc.assembly)).toEqual([]);
    expect(nagViolations(noEndpoints.assembly)).toEqual([]);
  });

  it('runs the generate task in the given subnets and security group, nothing else', () => {
    expect(taskFunction(vpc.template, 'Generate images')[1].Properties.VpcConfig).toEqual({
      SubnetIds: ['subnet-0aaaaaaaaaaaaaaa1', 'subnet-0bbbbbbbbbbbbbbb2'],
      SecurityGroupIds: ['sg-0123456789abcdef0'],
    });
    for (const state of BOOKKEEPING)
      expect(taskFunction(vpc.template, state)[1].Properties.VpcConfig).toBeUndefined();
    expect(gatewayFunction(vpc.template)[1].Properties.VpcConfig).toBeUndefined();
    expect(envOf(taskFunction(vpc.template, 'Generate images')[1])[ENV.sdWebUiUrl]).toBe(
      'http://10.0.1.23:7860',
    );
  });

  it('gives the generate task the memory the deployment sets (generateMemoryMb), the others theirs', () => {
    expect(taskFunction(vpc.template, 'Generate images')[1].Properties.MemorySize).toBe(512);
    expect(taskFunction(noEndpoints.template, 'Generate images')[1].Properties.MemorySize).toBe(256);
    for (const state of BOOKKEEPING.filter((s) => s !== 'Render contact sheet'))
      expect(taskFunction(vpc.template, state)[1].Properties.MemorySize).toBe(256);
  });

  it('imports the VPC (no lookups, nothing created) and adds no NAT gateway', () => {
    for (const type of [
      'AWS::EC2::VPC',
      'AWS::EC2::Subnet',
      'AWS::EC2::NatGateway',
      'AWS::EC2::InternetGateway',
    ]) {
      expect(Object.keys(resources(vpc.template, type)), type).toHaveLength(0);
    }
  });

  it('adds S3 and DynamoDB gateway endpoints on the subnets’ route tables', () => {
    for (const service of ['s3', 'dynamodb']) {
      vpc.template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
        VpcEndpointType: 'Gateway',
        VpcId: 'vpc-0123456789abcdef0',
        RouteTableIds: ['rtb-0aaaaaaaaaaaaaaa1', 'rtb-0bbbbbbbbbbbbbbb2'],
        ServiceName: { 'Fn::Join': ['', ['com.amazonaws.', { Ref: 'AWS::Region' }, `.${service}`]] },
      });
    }
  });

  it('reaches Step Functions (to wake waiting runners) and the auth secret through endpoints open to the workers’ group only', () => {
    for (const service of ['states', 'secretsmanager']) {
      vpc.template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
        VpcEndpointType: 'Interface',
        PrivateDnsEnabled: true,
        SubnetIds: ['subnet-0aaaaaaaaaaaaaaa1', 'subnet-0bbbbbbbbbbbbbbb2'],
        ServiceName: { 'Fn::Join': ['', ['com.amazonaws.', { Ref: 'AWS::Region' }, `.${service}`]] },
      });
    }
    vpc.template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      SecurityGroupIngress: [
        {
          IpProtocol: 'tcp',
          FromPort: 443,
          ToPort: 443,
          SourceSecurityGroupId: 'sg-0123456789abcdef0',
          Description: 'generate task',
        },
      ],
    });
  });

  it('lets only the generate task read the auth secret, and gives only it the VPC access policy', () => {
    const generate = taskFunction(vpc.template, 'Generate images')[1];
    expect(envOf(generate)[ENV.sdWebUiAuthSecretArn]).toBe(AUTH_SECRET_ARN);
    expect(statementsOfFunction(vpc.template, generate)).toContainEqual(
      expect.objectContaining({
        Action: expect.arrayContaining(['secretsmanager:GetSecretValue']),
        Resource: AUTH_SECRET_ARN,
      }),
    );
    const roles = vpc.template.toJSON().Resources;
    expect(JSON.stringify(roles[roleIdOf(generate)].Properties.ManagedPolicyArns)).toContain(
      'AWSLambdaVPCAccessExecutionRole',
    );
    for (const state of BOOKKEEPING) {
      const fn = taskFunction(vpc.template, state)[1];
      expect(envOf(fn)[ENV.sdWebUiAuthSecretArn]).toBeUndefined();
      expect(
        allActions(statementsOfFunction(vpc.template, fn)).filter((a) => a.startsWith('secretsmanager:')),
      ).toEqual([]);
      expect(roles[roleIdOf(fn)].Properties.ManagedPolicyArns).toBeUndefined();
    }
  });

  it('carries retentionDays to the lifecycle rule and the gateway alike', () => {
    expect(envOf(gatewayFunction(vpc.template)[1])[ENV.retentionDays]).toBe('3');
    vpc.template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: {
        Rules: [
          { Id: 'expire-job-images', Prefix: 'jobs/', ExpirationInDays: 3, Status: 'Enabled' },
          {},
          {},
          {},
        ],
      },
    });
  });

  it('tells the gateway the workers cannot fetch URLs unless vpcInternetAccess says the subnets route out', () => {
    expect(envOf(gatewayFunction(vpc.template)[1])[ENV.workersReachInternet]).toBe('false');
    expect(envOf(gatewayFunction(noEndpoints.template)[1])[ENV.workersReachInternet]).toBe('true');
  });

  it('creates no endpoints when createVpcEndpoints=false (the VPC already has them)', () => {
    expect(Object.keys(resources(noEndpoints.template, 'AWS::EC2::VPCEndpoint'))).toHaveLength(0);
    expect(taskFunction(noEndpoints.template, 'Generate images')[1].Properties.VpcConfig).toBeDefined();
  });
});
