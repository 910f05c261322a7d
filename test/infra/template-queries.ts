import type { Template } from 'aws-cdk-lib/assertions';

export interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Principal?: unknown;
  Condition?: unknown;
}
type Resource = { Type: string; Properties: Record<string, unknown> };

export const asList = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);
export const actionsOf = (s: Statement): string[] => asList(s.Action);

export const resources = (template: Template, type: string): Record<string, Resource> =>
  template.findResources(type) as Record<string, Resource>;

/** The one resource of a type, as [logical id, resource]. */
export function single(template: Template, type: string): [string, Resource] {
  const all = Object.entries(resources(template, type));
  if (all.length !== 1 || !all[0]) throw new Error(`expected one ${type}, found ${all.length}`);
  return all[0];
}

/** Lambda functions by description, e.g. 'sdbatch Step Functions task "Generate images"'. */
export function functionByDescription(template: Template, description: string): [string, Resource] {
  const match = Object.entries(resources(template, 'AWS::Lambda::Function')).find(
    ([, fn]) => fn.Properties.Description === description,
  );
  if (!match) throw new Error(`no function described "${description}"`);
  return match;
}

export const taskFunction = (template: Template, state: string) =>
  functionByDescription(template, `sdbatch Step Functions task "${state}"`);
export const gatewayFunction = (template: Template) =>
  functionByDescription(template, 'sdbatch MCP gateway (Streamable HTTP, stateless)');

export function roleIdOf(fn: Resource): string {
  return (fn.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
}

/** Every statement of every inline policy attached to the role. */
export function statementsOfRole(template: Template, roleId: string): Statement[] {
  return Object.values(resources(template, 'AWS::IAM::Policy'))
    .filter((p) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === roleId))
    .flatMap((p) => (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
}

export const statementsOfFunction = (template: Template, fn: Resource) =>
  statementsOfRole(template, roleIdOf(fn));

export const allActions = (statements: Statement[]): string[] => statements.flatMap(actionsOf);

export const envOf = (fn: Resource): Record<string, unknown> =>
  (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
