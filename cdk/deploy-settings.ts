import type { Node } from 'constructs';
import { z } from 'zod';
import {
  commaList,
  describeIssues,
  requestLimitsFit,
  requestLimitsMessage,
  SETTINGS,
} from '../core/settings.ts';

/** An EC2 id such as `subnet-0abc…`: the prefix, then 8 or 17 hex digits. */
const ec2Id = (prefix: string) =>
  z.string().regex(new RegExp(`^${prefix}-([0-9a-f]{8}|[0-9a-f]{17})$`), {
    message: `expected ${prefix}-<8 or 17 hex digits>`,
  });

/** A list from `-c key=a,b` (a string) or from cdk.json (an array). */
const idList = (prefix: string) =>
  z.preprocess(
    (value) =>
      typeof value === 'string'
        ? value
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean)
        : value,
    z.array(ec2Id(prefix)).min(1),
  );

const flag = z.preprocess((value) => (typeof value === 'string' ? value !== 'false' : value), z.boolean());

/** A complete secret ARN (with its 6-character suffix), so IAM can name exactly that secret. */
const secretArn = z
  .string()
  .regex(/^arn:aws[\w-]*:secretsmanager:[\w-]+:\d{12}:secret:[\w/+=.@-]+-[A-Za-z0-9]{6}$/, {
    message: 'must be the complete secret ARN, ending in the 6-character suffix',
  });

const Common = z.object({
  sdWebUiAuthSecretArn: secretArn.optional(),
  retentionDays: SETTINGS.retentionDays,
  hostDepth: SETTINGS.hostDepth,
  /** Each host's request time limit in seconds (100 behind a Cloudflare tunnel): one, or one per sdWebUiUrl entry. */
  hostRequestLimitSeconds: SETTINGS.hostRequestLimitSeconds,
  concurrency: SETTINGS.concurrency,
  /**
   * The generate task's memory. It is billed while the task waits for the GPU; 256 MB holds the
   * largest answer a call may bring (8 images at 2048x2048) with a little room: raise it if such
   * batches run out of memory, lower it for small images only.
   */
  generateMemoryMb: z.coerce.number().int().min(128).max(10240).default(256),
  /**
   * Concurrent executions reserved for the gateway, which also caps it: a flood of requests to its
   * public URL, authenticated or not, cannot take the account's concurrency from the workflow's
   * functions. None by default: Lambda keeps 100 of the account's concurrency unreserved, so a
   * reservation of n needs a concurrent-executions quota of at least n + 100, and a new account
   * has less (README, "Account quotas"). "none" is the default spelled out.
   */
  gatewayReservedConcurrency: z
    .union([z.literal('none'), z.coerce.number().int().min(1).max(1000)])
    .optional()
    .transform((v) => (v === 'none' ? undefined : v)),
  /** Where the alarms are mailed (SNS asks the address to confirm first); unset, the topic has no subscriber. */
  alarmEmail: z.email({ message: 'expected an e-mail address' }).optional(),
  /** OAuth resource-server mode: the authorization server, and this gateway's MCP URL as audience. */
  oauthIssuer: z.url({ protocol: /^https$/ }).optional(),
  oauthAudience: z.url({ protocol: /^https$/ }).optional(),
  /** Unset, the gateway's default scope applies. */
  oauthScope: SETTINGS.oauthScope.unwrap().optional(),
  oauthJwksUrl: z.url({ protocol: /^https$/ }).optional(),
  /** "cognito": create a Cognito user pool as the authorization server. */
  oauth: z.literal('cognito').optional(),
  cognitoDomainPrefix: z
    .string()
    .regex(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, 'lower-case letters, digits and "-"')
    .optional(),
  /** Where MCP clients receive the authorization code; claude.ai's by default. */
  oauthCallbackUrls: z
    .string()
    .default('https://claude.ai/api/mcp/auth_callback')
    .transform(commaList)
    .pipe(z.array(z.url({ protocol: /^https$/ })).min(1)),
});

/** Each entry of a comma-separated sdWebUiUrl must pass `url`: one GPU host, or a pool. */
const urlList = (url: z.ZodType<string>) =>
  z.string().refine((raw) => raw.split(',').every((u) => url.safeParse(u.trim()).success), {
    message: 'every sdWebUiUrl entry must be a valid URL of the mode’s scheme',
  });

const Tunnel = Common.extend({
  mode: z.literal('tunnel'),
  // Reached over the internet: only TLS keeps prompts and credentials private.
  sdWebUiUrl: urlList(z.url({ protocol: /^https$/ })).refine((raw) => !/(^|,)\s*http:/.test(raw), {
    message: 'tunnel mode needs an https:// sdWebUiUrl',
  }),
});

const InVpc = Common.extend({
  mode: z.literal('vpc'),
  // Inside the VPC, plain http to a private address is the usual case.
  sdWebUiUrl: urlList(z.url({ protocol: /^https?$/ })),
  vpcId: ec2Id('vpc'),
  subnetIds: idList('subnet'),
  /** The subnets' route tables, in the same order: the S3 and DynamoDB gateway endpoints attach to them. */
  routeTableIds: idList('rtb'),
  securityGroupId: ec2Id('sg'),
  /** false when the VPC already has S3/DynamoDB gateway endpoints on those route tables. */
  createVpcEndpoints: flag.default(true),
  /**
   * true when the subnets route to the internet (a NAT gateway): only then can the workers fetch a
   * caller's ControlNet image_url. Not stated, they cannot, and the gateway refuses such a start.
   */
  vpcInternetAccess: flag.default(false),
});

export const DeploySettings = z
  .discriminatedUnion('mode', [Tunnel, InVpc])
  .refine((s) => s.mode !== 'vpc' || s.subnetIds.length === s.routeTableIds.length, {
    message: 'routeTableIds needs one route table id per subnet id, in the same order',
    path: ['routeTableIds'],
  })
  .refine((s) => s.oauth !== 'cognito' || s.cognitoDomainPrefix, {
    message:
      'cognitoDomainPrefix (a globally unique prefix for the sign-in domain) is required with oauth=cognito',
    path: ['cognitoDomainPrefix'],
  })
  .refine((s) => !s.oauthIssuer || s.oauthAudience, {
    message:
      "oauthAudience (this gateway's MCP URL, from a first deploy's McpUrl output) is required with oauthIssuer",
    path: ['oauthAudience'],
  })
  .superRefine((s, ctx) => {
    const hosts = commaList(s.sdWebUiUrl).length;
    if (!requestLimitsFit(s.hostRequestLimitSeconds, hosts)) {
      ctx.addIssue({
        code: 'custom',
        path: ['hostRequestLimitSeconds'],
        message: requestLimitsMessage(hosts),
      });
    }
  })
  .transform((s) => {
    const gpuHosts = commaList(s.sdWebUiUrl).length;
    // Tunnel mode's workers run in Lambda's own network, which reaches the internet.
    const workersReachInternet = s.mode === 'tunnel' || s.vpcInternetAccess;
    return { ...s, gpuHosts, concurrency: s.concurrency ?? gpuHosts * s.hostDepth, workersReachInternet };
  });
export type DeploySettings = z.infer<typeof DeploySettings>;
export type VpcSettings = Extract<DeploySettings, { mode: 'vpc' }>;

/** The context keys read: every field of either mode's schema (`mode` is derived, not read). */
const KEYS = [...new Set([...Object.keys(Tunnel.shape), ...Object.keys(InVpc.shape)])].filter(
  (key) => key !== 'mode',
);

/** The deployment's context values (`-c key=value` or cdk.json); VPC mode when `vpcId` is set. */
export function readDeploySettings(node: Node): DeploySettings {
  const raw: Record<string, unknown> = Object.fromEntries(
    KEYS.map((key) => [key, node.tryGetContext(key)]).filter(
      ([, value]) => value !== undefined && value !== '',
    ),
  );
  if (raw.sdWebUiUrl === undefined) {
    throw new Error(
      'Set the GPU host: cdk deploy -c sdWebUiUrl=https://your-tunnel.example.com (tunnel mode), or add ' +
        '-c vpcId=… -c subnetIds=… -c routeTableIds=… -c securityGroupId=… for VPC mode (README, "Deploy to AWS").',
    );
  }
  const vpcOnly = [
    'subnetIds',
    'routeTableIds',
    'securityGroupId',
    'createVpcEndpoints',
    'vpcInternetAccess',
  ].filter((k) => k in raw);
  if (raw.vpcId === undefined && vpcOnly.length > 0) {
    throw new Error(`${vpcOnly.join(', ')} only apply in VPC mode: set vpcId as well, or drop them.`);
  }
  const result = DeploySettings.safeParse({ ...raw, mode: raw.vpcId === undefined ? 'tunnel' : 'vpc' });
  if (result.success) return result.data;
  throw new Error(`Invalid context values:\n${describeIssues(result.error, '\n', '  ')}`);
}
