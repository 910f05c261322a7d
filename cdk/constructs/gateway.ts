import { Duration, Validations } from 'aws-cdk-lib';
import { type FunctionUrl, FunctionUrlAuthType } from 'aws-cdk-lib/aws-lambda';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { ENV } from '../../lambdas/config/env.ts';
import type { DeploySettings } from '../deploy-settings.ts';
import type { ImagesBucket } from './images-bucket.ts';
import type { JobsTable } from './jobs-table.ts';
import { NodeFunction } from './node-function.ts';
import type { OAuthUserPool } from './oauth-user-pool.ts';
import type { Workflow } from './workflow.ts';
import { SHARP } from './workflow-tasks.ts';

/** Request bodies the gateway accepts behind a Function URL (Lambda's payload limit is 6 MB). */
export const MAX_REQUEST_BYTES = 5_000_000;

export interface GatewayProps {
  table: JobsTable;
  images: ImagesBucket;
  workflow: Workflow;
  settings: Pick<
    DeploySettings,
    | 'concurrency'
    | 'gatewayReservedConcurrency'
    | 'gpuHosts'
    | 'retentionDays'
    | 'oauthIssuer'
    | 'oauthAudience'
    | 'oauthScope'
    | 'oauthJwksUrl'
    | 'workersReachInternet'
  >;
  /** A Cognito user pool as the authorization server (oauth=cognito). */
  userPool?: OAuthUserPool;
}

/**
 * The MCP gateway: one Lambda behind a Function URL. The URL is public (auth type NONE) because
 * the app itself demands the bearer token on every request; the token is generated into Secrets
 * Manager at deploy time and never appears in the template.
 */
export class Gateway extends Construct {
  readonly url: FunctionUrl;
  readonly tokenSecret: Secret;
  readonly function: NodeFunction;

  constructor(scope: Construct, id: string, props: GatewayProps) {
    super(scope, id);
    this.tokenSecret = new Secret(this, 'Token', {
      description: 'sdbatch MCP gateway bearer token',
      // Letters and digits only: pastes cleanly into a header and a shell.
      generateSecretString: { passwordLength: 48, excludePunctuation: true, includeSpace: false },
    });
    Validations.of(this.tokenSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'A static bearer token that the user copies into their MCP client; automatic rotation would break ' +
        'the client without notice. Rotate by putting a new value and redeploying (README, "Reading the token").',
    });

    this.function = new NodeFunction(this, 'Function', {
      entry: 'lambdas/entry/gateway.ts',
      description: 'sdbatch MCP gateway (Streamable HTTP, stateless)',
      // A user-facing path: the MCP SDK and zod schemas load at cold start, and CPU scales with
      // memory. Each call is a few DynamoDB requests or presignings; 30 s is far above that. A
      // contact sheet drawn on demand for 800 images peaks at about 650 MiB (sharp's WebAssembly
      // build): 1 GB holds it.
      memorySize: 1024,
      timeout: Duration.seconds(30),
      // Its URL is public: whatever arrives there runs within this share of the account's concurrency.
      reservedConcurrency: props.settings.gatewayReservedConcurrency,
      // loadPresetCatalog reads presets/*.yaml beside index.mjs at cold start.
      copyIntoBundle: ['presets'],
      // Contact sheets on demand (result with contact_sheet "refresh") are drawn with sharp.
      unbundled: SHARP,
    });
    this.tokenSecret.grantRead(this.function.role);
    this.function.addEnvironment(ENV.tokenSecretArn, this.tokenSecret.secretArn);
    props.table.bindGateway(this.function);
    props.images.bindGateway(this.function);
    props.workflow.bindStarter(this.function);
    this.function.addEnvironment(ENV.concurrency, String(props.settings.concurrency));
    this.function.addEnvironment(ENV.gpuHosts, String(props.settings.gpuHosts));
    this.function.addEnvironment(ENV.retentionDays, String(props.settings.retentionDays));
    this.function.addEnvironment(ENV.workersReachInternet, String(props.settings.workersReachInternet));
    // Lambda refuses an event over 6 MB (headers, escaped body and all) before the app sees it:
    // below that, the app's own limit answers with a clear message.
    this.function.addEnvironment(ENV.maxRequestBytes, String(MAX_REQUEST_BYTES));
    const { oauthIssuer, oauthAudience, oauthScope, oauthJwksUrl } = props.settings;
    if (props.userPool) {
      this.function.addEnvironment(ENV.oauthIssuer, props.userPool.issuer);
      this.function.addEnvironment(ENV.oauthClientIds, props.userPool.client.userPoolClientId);
      this.function.addEnvironment(ENV.oauthScope, props.userPool.scope);
    } else if (oauthIssuer && oauthAudience) {
      this.function.addEnvironment(ENV.oauthIssuer, oauthIssuer);
      this.function.addEnvironment(ENV.oauthAudience, oauthAudience);
      if (oauthScope) this.function.addEnvironment(ENV.oauthScope, oauthScope);
      if (oauthJwksUrl) this.function.addEnvironment(ENV.oauthJwksUrl, oauthJwksUrl);
    }

    this.url = this.function.fn.addFunctionUrl({ authType: FunctionUrlAuthType.NONE });
  }
}
