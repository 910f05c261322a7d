import { Fn, Validations } from 'aws-cdk-lib';
import {
  GatewayVpcEndpointAwsService,
  InterfaceVpcEndpoint,
  InterfaceVpcEndpointAwsService,
  type ISubnet,
  type IVpc,
  Peer,
  Port,
  SecurityGroup,
  Subnet,
  Vpc,
} from 'aws-cdk-lib/aws-ec2';
import { type ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { ENV } from '../../lambdas/config/env.ts';
import type { DeploySettings, VpcSettings } from '../deploy-settings.ts';
import type { FunctionPlacement, NodeFunction } from './node-function.ts';

/**
 * How the generate task reaches SD WebUI. Tunnel mode: an https URL on the internet (a
 * Cloudflare/ngrok tunnel), optionally with credentials from Secrets Manager. VPC mode: the
 * worker runs in your subnets and reaches the host privately; gateway endpoints for S3 and
 * DynamoDB and an interface endpoint for Step Functions replace a NAT gateway. Nothing is looked up: ids come from context, so synth is offline.
 */
export class GpuConnection extends Construct {
  /** Where the generate function runs; undefined in tunnel mode (Lambda's own network). */
  readonly placement?: FunctionPlacement;
  private readonly url: string;
  private readonly depth: number;
  /** Each host's request limit, as the context gave it (one value, or one per URL). */
  private readonly requestLimits?: number[];
  private readonly authSecret?: ISecret;

  constructor(scope: Construct, id: string, settings: DeploySettings) {
    super(scope, id);
    this.url = settings.sdWebUiUrl;
    this.depth = settings.hostDepth;
    this.requestLimits = settings.hostRequestLimitSeconds;
    if (settings.sdWebUiAuthSecretArn) {
      this.authSecret = Secret.fromSecretCompleteArn(this, 'AuthSecret', settings.sdWebUiAuthSecretArn);
    }
    if (settings.mode === 'vpc') this.placement = this.placeInVpc(settings);
  }

  /** Every task's config names the host; only the generate task calls it. */
  bindHostUrl(fn: NodeFunction): void {
    fn.addEnvironment(ENV.sdWebUiUrl, this.url);
    fn.addEnvironment(ENV.hostDepth, String(this.depth));
    if (this.requestLimits) fn.addEnvironment(ENV.hostRequestLimitSeconds, this.requestLimits.join(','));
  }

  /** The generate task: the host URL and, when configured, read access to its credentials. */
  bindGenerator(fn: NodeFunction): void {
    this.bindHostUrl(fn);
    if (!this.authSecret) return;
    this.authSecret.grantRead(fn.role);
    fn.addEnvironment(ENV.sdWebUiAuthSecretArn, this.authSecret.secretArn);
  }

  private placeInVpc(settings: VpcSettings): FunctionPlacement {
    const subnets = settings.subnetIds.map((subnetId, i) =>
      Subnet.fromSubnetAttributes(this, `Subnet${i}`, { subnetId, routeTableId: settings.routeTableIds[i] }),
    );
    const vpc = Vpc.fromVpcAttributes(this, 'Vpc', { vpcId: settings.vpcId, availabilityZones: Fn.getAzs() });
    Validations.of(vpc).acknowledge({
      id: 'Annotation::@aws-cdk/aws-ec2:vpcAttributeIsListTokenavailabilityZones',
      reason: 'Subnets are always passed explicitly, so the zone list is never used to select subnets.',
    });
    // Immutable: sdbatch never edits your security group; it must allow egress to the host and 443.
    const workers = SecurityGroup.fromSecurityGroupId(this, 'WorkerSecurityGroup', settings.securityGroupId, {
      mutable: false,
    });
    if (settings.createVpcEndpoints) {
      // Free gateway endpoints on the subnets' route tables: S3 and DynamoDB without a NAT gateway.
      vpc.addGatewayEndpoint('S3Endpoint', {
        service: GatewayVpcEndpointAwsService.S3,
        subnets: [{ subnets }],
      });
      vpc.addGatewayEndpoint('DynamoDbEndpoint', {
        service: GatewayVpcEndpointAwsService.DYNAMODB,
        subnets: [{ subnets }],
      });
      // The generate task wakes waiting runners (SendTaskSuccess): Step Functions' API from inside.
      this.interfaceEndpoint(
        'StepFunctions',
        InterfaceVpcEndpointAwsService.STEP_FUNCTIONS,
        vpc,
        subnets,
        settings,
      );
      if (this.authSecret) {
        this.interfaceEndpoint(
          'SecretsManager',
          InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
          vpc,
          subnets,
          settings,
        );
      }
    }
    return { vpc, vpcSubnets: { subnets }, securityGroups: [workers] };
  }

  /** A service with no gateway endpoint: an interface endpoint, open on 443 to the workers only. */
  private interfaceEndpoint(
    name: string,
    service: InterfaceVpcEndpointAwsService,
    vpc: IVpc,
    subnets: ISubnet[],
    settings: VpcSettings,
  ): void {
    const endpointGroup = new SecurityGroup(this, `${name}EndpointSecurityGroup`, {
      vpc,
      description: `sdbatch: HTTPS from the generate task to the ${name} endpoint`,
      allowAllOutbound: false,
    });
    endpointGroup.addIngressRule(
      Peer.securityGroupId(settings.securityGroupId),
      Port.tcp(443),
      'generate task',
    );
    new InterfaceVpcEndpoint(this, `${name}Endpoint`, {
      vpc,
      service,
      subnets: { subnets },
      privateDnsEnabled: true,
      securityGroups: [endpointGroup],
      // Not open to the whole VPC: the group above admits the workers' group only.
      open: false,
    });
  }
}
