import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import {
  AdvancedSecurityMode,
  FeaturePlan,
  Mfa,
  OAuthScope,
  ResourceServerScope,
  UserPool,
  type UserPoolClient,
  UserPoolResourceServer,
} from 'aws-cdk-lib/aws-cognito';
import { Construct } from 'constructs';

/** The scope every MCP call needs; the gateway's default SDBATCH_OAUTH_SCOPE. */
export const TOOLS_SCOPE = { resourceServer: 'sdbatch', scope: 'tools' } as const;

export interface OAuthUserPoolProps {
  /** The Cognito hosted domain's prefix: <prefix>.auth.<region>.amazoncognito.com. */
  domainPrefix: string;
  /** Where the MCP client receives the code, e.g. https://claude.ai/api/mcp/auth_callback. */
  callbackUrls: string[];
}

/**
 * An authorization server for clients that only do OAuth (claude.ai connectors, Claude
 * Desktop): a Cognito user pool with a hosted domain, the sdbatch/tools scope and one public app
 * client using the authorization code flow with PKCE. Users are invited by an administrator.
 */
export class OAuthUserPool extends Construct {
  readonly userPool: UserPool;
  readonly client: UserPoolClient;
  readonly issuer: string;
  readonly scope = `${TOOLS_SCOPE.resourceServer}/${TOOLS_SCOPE.scope}`;

  constructor(scope: Construct, id: string, props: OAuthUserPoolProps) {
    super(scope, id);
    this.userPool = new UserPool(this, 'Users', {
      selfSignUpEnabled: false,
      signInAliases: { email: true },
      passwordPolicy: {
        minLength: 12,
        requireDigits: true,
        requireLowercase: true,
        requireUppercase: true,
        requireSymbols: true,
      },
      mfa: Mfa.OPTIONAL,
      mfaSecondFactor: { otp: true, sms: false },
      featurePlan: FeaturePlan.PLUS,
      advancedSecurityMode: AdvancedSecurityMode.ENFORCED,
      // Identities outlive a stack update but not a deliberate destroy.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.userPool.addDomain('Domain', { cognitoDomain: { domainPrefix: props.domainPrefix } });
    const tools = new ResourceServerScope({
      scopeName: TOOLS_SCOPE.scope,
      scopeDescription: 'Call the sdbatch tools',
    });
    const server = new UserPoolResourceServer(this, 'Api', {
      userPool: this.userPool,
      identifier: TOOLS_SCOPE.resourceServer,
      scopes: [tools],
    });
    this.client = this.userPool.addClient('McpClient', {
      // A public client: MCP clients hold no secret and use PKCE.
      generateSecret: false,
      oAuth: {
        flows: { authorizationCodeGrant: true },
        scopes: [OAuthScope.OPENID, OAuthScope.resourceServer(server, tools)],
        callbackUrls: props.callbackUrls,
      },
      accessTokenValidity: Duration.hours(1),
      refreshTokenValidity: Duration.days(30),
      preventUserExistenceErrors: true,
    });
    this.issuer = `https://cognito-idp.${Stack.of(this).region}.amazonaws.com/${this.userPool.userPoolId}`;
    Validations.of(this.userPool).acknowledge({
      id: 'AwsSolutions-COG2',
      reason:
        'MFA is optional (TOTP) rather than required: an MCP connector sign-in must work for users who have not enrolled yet; enforce it in the pool when every user has.',
    });
  }
}
