import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import {
  BlockPublicAccess,
  Bucket,
  BucketEncryption,
  type CfnBucket,
  ObjectOwnership,
} from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { IMAGE_PREFIX, INPUT_PREFIX, SHEET_PREFIX } from '../../core/image-key.ts';
import { ENV } from '../../lambdas/config/env.ts';
import type { NodeFunction } from './node-function.ts';

export interface ImagesBucketProps {
  /** Days images are kept: the same number the gateway stamps on job items as their TTL. */
  retentionDays: number;
}

/** The PNGs: private, TLS only, encrypted, expiring with their jobs; access logged to a second bucket. */
export class ImagesBucket extends Construct {
  readonly bucket: Bucket;
  readonly accessLogs: Bucket;

  constructor(scope: Construct, id: string, props: ImagesBucketProps) {
    super(scope, id);
    const common = {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      // SSE-S3: encrypted at rest at no cost; server access logs cannot be written to SSE-KMS targets.
      encryption: BucketEncryption.S3_MANAGED,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: RemovalPolicy.RETAIN,
    };
    this.accessLogs = new Bucket(this, 'AccessLogs', {
      ...common,
      lifecycleRules: [{ id: 'expire-access-logs', expiration: Duration.days(90) }],
    });

    this.bucket = new Bucket(this, 'Bucket', {
      ...common,
      serverAccessLogsBucket: this.accessLogs,
      serverAccessLogsPrefix: 'images/',
      lifecycleRules: [
        // Job items expire by TTL after the same number of days (ENV.retentionDays).
        { id: 'expire-job-images', prefix: IMAGE_PREFIX, expiration: Duration.days(props.retentionDays) },
        { id: 'expire-job-inputs', prefix: INPUT_PREFIX, expiration: Duration.days(props.retentionDays) },
        { id: 'expire-contact-sheets', prefix: SHEET_PREFIX, expiration: Duration.days(props.retentionDays) },
        { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
    });
  }

  /**
   * The generate task writes images and reads ControlNet inputs named by key (a job's own inline
   * images under inputs/, or an earlier job's output under jobs/).
   */
  bindWriter(fn: NodeFunction): void {
    this.grant(fn, 's3:PutObject', IMAGE_PREFIX);
    // A control image fetched by URL is kept once per job under inputs/ (host-context.ts).
    this.grant(fn, 's3:PutObject', INPUT_PREFIX);
    this.grant(fn, 's3:GetObject', INPUT_PREFIX);
    this.grant(fn, 's3:GetObject', IMAGE_PREFIX);
    this.grantListing(fn);
    fn.addEnvironment(ENV.bucketName, this.bucket.bucketName);
  }

  /** The contact sheet task reads a job's images and writes its sheet. */
  bindSheetRenderer(fn: NodeFunction): void {
    this.grant(fn, 's3:GetObject', IMAGE_PREFIX);
    this.grant(fn, 's3:PutObject', SHEET_PREFIX);
    fn.addEnvironment(ENV.bucketName, this.bucket.bucketName);
  }

  /**
   * The gateway presigns GETs of images (the URL carries the gateway role's permission to read)
   * and stores a job's inline ControlNet images.
   */
  bindGateway(fn: NodeFunction): void {
    this.grant(fn, 's3:GetObject', IMAGE_PREFIX);
    // A ControlNet image_key may name an input of the caller's earlier job.
    this.grant(fn, 's3:GetObject', INPUT_PREFIX);
    this.grant(fn, 's3:PutObject', INPUT_PREFIX);
    this.grantListing(fn);
    this.grant(fn, 's3:GetObject', SHEET_PREFIX);
    this.grant(fn, 's3:PutObject', SHEET_PREFIX);
    fn.addEnvironment(ENV.bucketName, this.bucket.bucketName);
  }

  /**
   * Both functions ask whether a key exists (HeadObject). S3 answers a missing key 404 only to a
   * caller that may list the bucket, and 403 to anyone else, which reads as "denied", not "not
   * there". A condition on s3:prefix would not do: that check carries no prefix.
   */
  private grantListing(fn: NodeFunction): void {
    fn.role.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['s3:ListBucket'], resources: [this.bucket.bucketArn] }),
    );
  }

  private grant(fn: NodeFunction, action: string, prefix: string): void {
    const objects = this.bucket.arnForObjects(`${prefix}*`);
    fn.role.addToPrincipalPolicy(new PolicyStatement({ actions: [action], resources: [objects] }));
    Validations.of(fn.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${this.bucketLogicalId()}.Arn>/${prefix}*]`,
      reason: `Object ARNs need a wildcard: keys are made per job (${prefix}<job id>/...); the grants are single actions under ${prefix} only.`,
    });
  }

  /** cdk-nag names a finding after the resolved logical id, so the acknowledgement must too. */
  private bucketLogicalId(): string {
    const stack = Stack.of(this);
    return stack.resolve(stack.getLogicalId(this.bucket.node.defaultChild as CfnBucket)) as string;
  }
}
