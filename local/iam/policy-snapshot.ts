import { FUNCTION_ROLES, type FunctionRole, TASK_ROLES } from '../../lambdas/function-roles.ts';
import { LOCAL_ACCOUNT, LOCAL_STATES_ARNS } from '../store-front/requested-actions.ts';

/**
 * Each function role's IAM policy, read from a synthesized template with its references resolved
 * to the names the embedded stack uses: what the tests hold every function's AWS calls to.
 */

export interface PolicyDocument {
  Version: '2012-10-17';
  Statement: Record<string, unknown>[];
}
export type PolicySnapshot = Record<FunctionRole, PolicyDocument>;

interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
}
export interface CfnTemplate {
  Resources: Record<string, CfnResource>;
}

/** The concrete names the embedded stack gives what the template creates. */
export interface LocalNames {
  tableName: string;
  bucketName: string;
}

/** The description each function's construct gives it (cdk/constructs/gateway.ts, workflow-tasks.ts). */
const DESCRIPTIONS: Record<FunctionRole, string> = {
  Gateway: 'sdbatch MCP gateway (Streamable HTTP, stateless)',
  ...(Object.fromEntries(
    Object.entries(TASK_ROLES).map(([state, role]) => [role, `sdbatch Step Functions task "${state}"`]),
  ) as Record<Exclude<FunctionRole, 'Gateway'>, string>),
};

const { partition, region, accountId } = LOCAL_ACCOUNT;
const PSEUDO: Record<string, string> = {
  'AWS::Partition': partition,
  'AWS::Region': region,
  'AWS::AccountId': accountId,
  'AWS::URLSuffix': 'amazonaws.com',
  'AWS::StackName': 'Sdbatch',
};

/** What `Ref` and `Fn::GetAtt ... Arn` give for each kind of resource a policy names. */
function referee(id: string, resource: CfnResource, names: LocalNames): { ref: string; arn: string } {
  const arn = (service: string, rest: string) => `arn:${partition}:${service}:${region}:${accountId}:${rest}`;
  switch (resource.Type) {
    case 'AWS::DynamoDB::Table':
    case 'AWS::DynamoDB::GlobalTable':
      return { ref: names.tableName, arn: arn('dynamodb', `table/${names.tableName}`) };
    case 'AWS::S3::Bucket': {
      const bucket = id.includes('AccessLogs') ? `${names.bucketName}-access-logs` : names.bucketName;
      return { ref: bucket, arn: `arn:${partition}:s3:::${bucket}` };
    }
    case 'AWS::StepFunctions::StateMachine':
      return { ref: LOCAL_STATES_ARNS.stateMachine, arn: LOCAL_STATES_ARNS.stateMachine };
    case 'AWS::SecretsManager::Secret': {
      const secret = arn('secretsmanager', `secret:${id}-AbCdEf`);
      return { ref: secret, arn: secret };
    }
    case 'AWS::Logs::LogGroup':
      return { ref: id, arn: arn('logs', `log-group:${id}:*`) };
    case 'AWS::Lambda::Function':
      return { ref: id, arn: arn('lambda', `function:${id}`) };
    default:
      throw new Error(`A policy names ${id} (${resource.Type}), which the snapshot cannot resolve`);
  }
}

function resolve(value: unknown, template: CfnTemplate, names: LocalNames): unknown {
  if (Array.isArray(value)) return value.map((v) => resolve(v, template, names));
  if (!value || typeof value !== 'object') return value;
  const entries = Object.entries(value);
  const [key, arg] = entries[0] ?? [];
  if (entries.length === 1 && key === 'Ref') {
    const name = String(arg);
    if (PSEUDO[name]) return PSEUDO[name];
    const resource = template.Resources[name];
    if (!resource) throw new Error(`Ref to unknown ${name}`);
    return referee(name, resource, names).ref;
  }
  if (entries.length === 1 && key === 'Fn::GetAtt') {
    const [id, attribute] = arg as [string, string];
    const resource = template.Resources[id];
    if (!resource || attribute !== 'Arn') throw new Error(`Fn::GetAtt ${id}.${attribute} is not resolvable`);
    return referee(id, resource, names).arn;
  }
  if (entries.length === 1 && key === 'Fn::Join') {
    const [separator, parts] = resolve(arg, template, names) as [string, unknown[]];
    return parts.map(String).join(separator);
  }
  if (entries.length === 1 && key === 'Fn::Split') {
    const [separator, text] = resolve(arg, template, names) as [string, string];
    return text.split(separator);
  }
  if (entries.length === 1 && key === 'Fn::Select') {
    const [index, list] = resolve(arg, template, names) as [number | string, unknown[]];
    return list[Number(index)];
  }
  if (key?.startsWith('Fn::')) throw new Error(`${key} is not resolvable in a policy`);
  return Object.fromEntries(entries.map(([k, v]) => [k, resolve(v, template, names)]));
}

/** The function's role's inline policies' statements, in template order. */
function statementsOf(template: CfnTemplate, role: FunctionRole): unknown[] {
  const fn = Object.values(template.Resources).find(
    (r) => r.Type === 'AWS::Lambda::Function' && r.Properties?.Description === DESCRIPTIONS[role],
  );
  if (!fn) throw new Error(`No function described "${DESCRIPTIONS[role]}"`);
  const roleId = (fn.Properties?.Role as { 'Fn::GetAtt': [string] } | undefined)?.['Fn::GetAtt'][0];
  return Object.values(template.Resources)
    .filter(
      (r) =>
        r.Type === 'AWS::IAM::Policy' &&
        ((r.Properties?.Roles ?? []) as { Ref?: string }[]).some((ref) => ref.Ref === roleId),
    )
    .flatMap((p) => (p.Properties?.PolicyDocument as { Statement: unknown[] } | undefined)?.Statement ?? []);
}

/** Every function role's identity policy, resolved: the snapshot (policies.snapshot.json) beside this file. */
export function policySnapshot(template: CfnTemplate, names: LocalNames): PolicySnapshot {
  return Object.fromEntries(
    FUNCTION_ROLES.map((role) => [
      role,
      {
        Version: '2012-10-17',
        Statement: resolve(statementsOf(template, role), template, names) as Record<string, unknown>[],
      },
    ]),
  ) as PolicySnapshot;
}

export const SNAPSHOT_PATH = new URL('./policies.snapshot.json', import.meta.url);
