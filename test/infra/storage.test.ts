import { Match } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTableInput } from '../../adapters/jobs-table.ts';
import { IMAGE_PREFIX, INPUT_PREFIX, imageKey } from '../../core/image-key.ts';
import { ENV } from '../../lambdas/config/env.ts';
import { type Synthesized, synthesize, TUNNEL_CONTEXT } from './synth.ts';
import { envOf, gatewayFunction, resources, single } from './template-queries.ts';

let synth: Synthesized;
beforeAll(() => {
  synth = synthesize(TUNNEL_CONTEXT);
});
afterAll(() => synth?.dispose());

describe('jobs table', () => {
  it('is on-demand, recoverable, encrypted, expiring, with the owner index', () => {
    synth.template.hasResourceProperties('AWS::DynamoDB::Table', {
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true },
      TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
    });
    synth.template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Retain' });
  });

  it('has exactly the key schema and index the embedded stack creates in dynalite', () => {
    const [, table] = single(synth.template, 'AWS::DynamoDB::Table');
    const embedded = createTableInput('any');
    const byName = (a: { AttributeName?: string }, b: { AttributeName?: string }) =>
      String(a.AttributeName).localeCompare(String(b.AttributeName));
    expect(table.Properties.KeySchema).toEqual(embedded.KeySchema);
    expect([...(table.Properties.AttributeDefinitions as [])].sort(byName)).toEqual(
      [...(embedded.AttributeDefinitions ?? [])].sort(byName),
    );
    expect(table.Properties.GlobalSecondaryIndexes).toEqual(embedded.GlobalSecondaryIndexes);
  });
});

describe('images bucket', () => {
  const images = () =>
    synth.template.findResources('AWS::S3::Bucket', {
      Properties: { LoggingConfiguration: Match.anyValue() },
    });

  it('blocks all public access, is encrypted, and logs access to the log bucket', () => {
    const buckets = Object.values(resources(synth.template, 'AWS::S3::Bucket'));
    expect(buckets).toHaveLength(2);
    for (const bucket of buckets) {
      expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
      expect(bucket.Properties.BucketEncryption).toEqual({
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      });
    }
    expect(Object.keys(images())).toHaveLength(1);
  });

  it('expires job images and inputs after the retention days the gateway stamps on job items', () => {
    const [bucket] = Object.values(images()) as {
      Properties: { LifecycleConfiguration: { Rules: unknown[] } };
    }[];
    const days = Number(envOf(gatewayFunction(synth.template)[1])[ENV.retentionDays]);
    expect(days).toBe(7);
    expect(bucket?.Properties.LifecycleConfiguration.Rules).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ Prefix: IMAGE_PREFIX, ExpirationInDays: days, Status: 'Enabled' }),
        expect.objectContaining({ Prefix: INPUT_PREFIX, ExpirationInDays: days, Status: 'Enabled' }),
      ]),
    );
    expect(imageKey('job_20261124_abc', 3, 1, 'png').startsWith(IMAGE_PREFIX)).toBe(true);
  });

  it('denies plain HTTP and allows nobody but the S3 logging service in its policies', () => {
    const policies = Object.values(resources(synth.template, 'AWS::S3::BucketPolicy'));
    expect(policies).toHaveLength(2);
    for (const policy of policies) {
      const statements = (policy.Properties.PolicyDocument as { Statement: Record<string, unknown>[] })
        .Statement;
      expect(statements).toContainEqual(
        expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
      );
      for (const s of statements.filter((s) => s.Effect === 'Allow')) {
        expect(s.Principal).toEqual({ Service: 'logging.s3.amazonaws.com' });
      }
    }
  });
});
