import { fileURLToPath } from 'node:url';
import { type Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import type { ISecurityGroup, IVpc, SubnetSelection } from 'aws-cdk-lib/aws-ec2';
import { ManagedPolicy, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, LoggingFormat, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { LogLevel, NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { BUNDLE_TARGET, CREATE_REQUIRE_BANNER, MAIN_FIELDS, nodeFlags } from '../function-runtime.ts';

/**
 * Packages a function imports at run time rather than from its bundle: `external` are imported,
 * `copied` (those and their dependencies) are copied from node_modules into the asset. Only
 * platform-independent packages belong here, so the asset is the same from any machine.
 */
export interface UnbundledPackages {
  external: string[];
  copied: string[];
}

/** Where a function runs when it must reach a host inside a VPC. */
export interface FunctionPlacement {
  vpc: IVpc;
  vpcSubnets: SubnetSelection;
  securityGroups: ISecurityGroup[];
}

export interface NodeFunctionProps {
  /** The entry module, relative to the repository root; it exports `handler`. */
  entry: string;
  description: string;
  memorySize: number;
  timeout: Duration;
  placement?: FunctionPlacement;
  /** Concurrent executions set aside for this function, which also caps it. */
  reservedConcurrency?: number;
  /** Directories (relative to the repository root) copied beside the bundle, e.g. data files. */
  copyIntoBundle?: string[];
  /** Packages left out of the bundle and copied beside it, with the files they load at run time. */
  unbundled?: UnbundledPackages;
}

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * A Lambda function with sdbatch's runtime defaults: Node 24 on arm64, ESM bundled by the local
 * esbuild (no Docker), X-Ray tracing, source-mapped stack traces, JSON logs kept for a month,
 * and a role of its own that holds only what the owning construct grants.
 */
export class NodeFunction extends Construct {
  readonly fn: NodejsFunction;
  readonly role: Role;
  readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: NodeFunctionProps) {
    super(scope, id);
    this.logGroup = new LogGroup(this, 'Logs', {
      retention: RetentionDays.ONE_MONTH,
      // Logs are operational, not data: they go with the stack.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: props.description,
    });
    // Instead of AWSLambdaBasicExecutionRole (logs:* on every group): this group only.
    this.logGroup.grantWrite(this.role);
    if (props.placement) {
      this.role.addManagedPolicy(
        ManagedPolicy.fromAwsManagedPolicyName('service-role/AWSLambdaVPCAccessExecutionRole'),
      );
      Validations.of(this.role).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]',
        reason:
          'A function in a VPC needs to create and delete its network interfaces; the AWS managed ' +
          'policy is the documented minimum and ENI actions cannot be scoped to resources.',
      });
    }

    this.fn = new NodejsFunction(this, 'Function', {
      entry: `${REPO_ROOT}${props.entry}`,
      handler: 'handler',
      description: props.description,
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize,
      timeout: props.timeout,
      reservedConcurrentExecutions: props.reservedConcurrency,
      role: this.role,
      logGroup: this.logGroup,
      loggingFormat: LoggingFormat.JSON,
      tracing: Tracing.ACTIVE,
      environment: { NODE_OPTIONS: nodeFlags(props.memorySize).join(' ') },
      ...props.placement,
      projectRoot: REPO_ROOT,
      depsLockFilePath: `${REPO_ROOT}package-lock.json`,
      bundling: {
        format: OutputFormat.ESM,
        target: BUNDLE_TARGET,
        mainFields: MAIN_FIELDS,
        banner: CREATE_REQUIRE_BANNER,
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        // Bundle the AWS SDK too: the versions the tests ran are the versions that deploy.
        externalModules: props.unbundled?.external ?? [],
        forceDockerBundling: false,
        // esbuild's warnings and errors only, not its size table for every function.
        logLevel: LogLevel.WARNING,
        commandHooks: {
          beforeBundling: () => [],
          beforeInstall: () => [],
          afterBundling: (inputDir, outputDir) => [
            ...(props.copyIntoBundle ?? []).map((dir) => `cp -R "${inputDir}/${dir}" "${outputDir}/${dir}"`),
            ...(props.unbundled?.copied ?? []).flatMap((m) => [
              `mkdir -p "${outputDir}/node_modules/${m.split('/').slice(0, -1).join('/')}"`,
              `cp -R "${inputDir}/node_modules/${m}" "${outputDir}/node_modules/${m}"`,
            ]),
          ],
        },
      },
    });
    // Active tracing adds xray:PutTraceSegments/PutTelemetryRecords, which have no resource ARNs.
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'X-Ray PutTraceSegments and PutTelemetryRecords do not support resource-level permissions.',
    });
  }

  addEnvironment(name: string, value: string): void {
    this.fn.addEnvironment(name, value);
  }
}
