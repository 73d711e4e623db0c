/**
 * Reads the IAM policies of a CloudFormation template the way a reviewer does: which statements
 * there are, what each role may do to what, and where a wildcard hides (in a literal, inside an
 * `Fn::Sub` or `Fn::Join`, or behind an attribute whose value ends in `*`).
 */
import type { Template } from './cloudformation-spec.ts';

export interface Statement {
  readonly Effect: 'Allow' | 'Deny';
  readonly Action?: unknown;
  readonly NotAction?: unknown;
  readonly Resource?: unknown;
  readonly NotResource?: unknown;
  readonly Principal?: unknown;
  readonly Condition?: unknown;
}

export interface FoundStatement {
  /** Where it is: `ApiRole.Policies[0].PolicyDocument.Statement[1]`. */
  readonly path: string;
  readonly logicalId: string;
  readonly statement: Statement;
}

/** Every statement of every policy document in the template (roles, bucket and queue policies…). */
export function policyStatements(template: Template): FoundStatement[] {
  const found: FoundStatement[] = [];
  const walk = (value: unknown, path: string, logicalId: string): void => {
    if (Array.isArray(value)) return value.forEach((item, i) => walk(item, `${path}[${i}]`, logicalId));
    if (typeof value !== 'object' || value === null) return;
    for (const [key, inner] of Object.entries(value)) {
      const innerPath = `${path}.${key}`;
      if (key === 'Statement' && Array.isArray(inner) && inner.every((s) => typeof s === 'object' && s && 'Effect' in s)) {
        inner.forEach((statement, i) => found.push({ path: `${innerPath}[${i}]`, logicalId, statement: statement as Statement }));
      } else {
        walk(inner, innerPath, logicalId);
      }
    }
  };
  for (const [logicalId, resource] of Object.entries(template.Resources)) walk(resource.Properties, logicalId, logicalId);
  return found;
}

const asList = (value: unknown): unknown[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

/**
 * A resource of a statement as a reviewer reads it: a literal as is, `Fn::Sub` as its text,
 * `Fn::GetAtt` as `${Id.Attribute}`, `Fn::Join` joined, `Ref` as `${Id}`.
 */
export function renderResource(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null) {
    const [key, inner] = Object.entries(value)[0] ?? [];
    if (key === 'Fn::Sub') return typeof inner === 'string' ? inner : String((inner as unknown[])[0]);
    if (key === 'Fn::GetAtt') return `\${${typeof inner === 'string' ? inner : (inner as string[]).join('.')}}`;
    if (key === 'Ref') return `\${${String(inner)}}`;
    if (key === 'Fn::Join') {
      const [separator, parts] = inner as [string, unknown[]];
      return parts.map(renderResource).join(separator);
    }
  }
  return JSON.stringify(value);
}

/**
 * The wildcards in a statement's actions and resources, rendered. A log group's `Arn` attribute
 * counts as one: CloudFormation gives it as `arn:…:log-group:<name>:*`.
 */
export function wildcardsIn(template: Template, statement: Statement): string[] {
  const hidden = (value: unknown): boolean => {
    const getAtt = (value as { 'Fn::GetAtt'?: unknown })?.['Fn::GetAtt'];
    if (getAtt === undefined) return false;
    const [id, attribute] = typeof getAtt === 'string' ? getAtt.split('.') : (getAtt as string[]);
    return attribute === 'Arn' && template.Resources[id!]?.Type === 'AWS::Logs::LogGroup';
  };
  return [...asList(statement.Action), ...asList(statement.Resource)]
    .filter((value) => renderResource(value).includes('*') || hidden(value))
    .map(renderResource);
}

/**
 * What a role may do, as sorted `action on resource` lines (Allow statements only), for an exact
 * comparison with what its function needs.
 */
export function grantsOf(template: Template, roleId: string): string[] {
  return policyStatements(template)
    .filter(({ logicalId, statement }) => logicalId === roleId && statement.Effect === 'Allow')
    .filter(({ path }) => path.includes('.Policies['))
    .flatMap(({ statement }) =>
      asList(statement.Action).flatMap((action) =>
        asList(statement.Resource).map((resource) => `${String(action)} on ${renderResource(resource)}`),
      ),
    )
    .sort();
}

/** Resource ARN of the log streams of one log group: the one `*` the roles are allowed (see serverless.yml). */
export const logStreamsOf = (logGroupId: string) =>
  `arn:\${AWS::Partition}:logs:\${AWS::Region}:\${AWS::AccountId}:log-group:\${${logGroupId}}:*`;
