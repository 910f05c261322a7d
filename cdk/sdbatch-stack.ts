import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { hostIdOf } from '../core/pool/host-pool.ts';
import { commaList } from '../core/settings.ts';
import { Gateway } from './constructs/gateway.ts';
import { GpuConnection } from './constructs/gpu-connection.ts';
import { ImagesBucket } from './constructs/images-bucket.ts';
import { JobsTable } from './constructs/jobs-table.ts';
import { OAuthUserPool } from './constructs/oauth-user-pool.ts';
import { Operations } from './constructs/operations.ts';
import { Workflow } from './constructs/workflow.ts';
import { WorkflowTasks } from './constructs/workflow-tasks.ts';
import type { DeploySettings } from './deploy-settings.ts';

export interface SdbatchStackProps extends StackProps {
  settings: DeploySettings;
}

/** sdbatch in one stack: it only wires the constructs together and names the outputs. */
export class SdbatchStack extends Stack {
  readonly table: JobsTable;
  readonly images: ImagesBucket;
  readonly tasks: WorkflowTasks;
  readonly workflow: Workflow;
  readonly gateway: Gateway;
  readonly userPool?: OAuthUserPool;
  readonly operations: Operations;

  constructor(scope: Construct, id: string, props: SdbatchStackProps) {
    super(scope, id, props);
    const { settings } = props;
    this.table = new JobsTable(this, 'Jobs');
    this.images = new ImagesBucket(this, 'Images', { retentionDays: settings.retentionDays });
    const gpu = new GpuConnection(this, 'GpuHost', settings);
    const stateMachineName = `${this.stackName}-jobs`;
    this.tasks = new WorkflowTasks(this, 'Tasks', {
      table: this.table,
      images: this.images,
      gpu,
      generateMemoryMb: settings.generateMemoryMb,
    });
    this.workflow = new Workflow(this, 'Workflow', { tasks: this.tasks.byState, stateMachineName });
    this.userPool =
      settings.oauth === 'cognito'
        ? new OAuthUserPool(this, 'OAuth', {
            domainPrefix: settings.cognitoDomainPrefix as string,
            callbackUrls: settings.oauthCallbackUrls,
          })
        : undefined;
    this.gateway = new Gateway(this, 'Gateway', {
      table: this.table,
      images: this.images,
      workflow: this.workflow,
      settings,
      userPool: this.userPool,
    });

    this.operations = new Operations(this, 'Operations', {
      stateMachine: this.workflow.stateMachine,
      generate: this.tasks.byState['Generate images'],
      gateway: this.gateway.function,
      hostIds: commaList(settings.sdWebUiUrl).map(hostIdOf),
      alarmEmail: settings.alarmEmail,
    });

    const output = (id: string, value: string, description: string) =>
      new CfnOutput(this, id, { value, description });
    // The Function URL ends in "/": the MCP endpoint is its /mcp route.
    output('McpUrl', `${this.gateway.url.url}mcp`, 'The MCP endpoint (Streamable HTTP)');
    output(
      'TokenCommand',
      `aws secretsmanager get-secret-value --secret-id ${this.gateway.tokenSecret.secretArn} ` +
        `--query SecretString --output text --region ${this.region}`,
      'Prints the bearer token',
    );
    output('TableName', this.table.table.tableName, 'DynamoDB jobs table');
    output('BucketName', this.images.bucket.bucketName, 'S3 images bucket');
    output(
      'StateMachineArn',
      this.workflow.stateMachine.stateMachineArn,
      'One execution per job, named after its id',
    );
    if (this.userPool) {
      output('OAuthIssuer', this.userPool.issuer, 'The authorization server (Cognito user pool)');
      output('OAuthClientId', this.userPool.client.userPoolClientId, 'The public app client MCP clients use');
    }
    output('AlarmTopicArn', this.operations.topic.topicArn, 'Alarms are published here: subscribe to it');
    output(
      'DashboardName',
      this.operations.dashboard.dashboardName,
      'The CloudWatch dashboard: jobs, images, GPU busy per host, runners waiting',
    );
    output(
      'GatewayFunctionName',
      this.gateway.function.fn.functionName,
      'The gateway Lambda: its logs, and recycling it after a token change',
    );
  }
}
