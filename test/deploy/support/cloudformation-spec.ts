/**
 * Checks a CloudFormation template against the CloudFormation resource specification that AWS CDK
 * generates its L1 constructs from (`@aws-cdk/aws-service-spec`, built from the CloudFormation
 * registry schemas and republished as they change). Catches what `serverless package` does not: an
 * unknown resource type, a misspelt or misplaced property at any depth the spec describes, a
 * missing required property, a literal outside a property's allowed values, and a `Ref` or
 * `Fn::GetAtt` to a resource or attribute that does not exist.
 */
import { loadAwsServiceSpec } from '@aws-cdk/aws-service-spec';
import type { Property, PropertyType, SpecDatabase } from '@aws-cdk/service-spec-types';

export type { SpecDatabase };

/** Loads the spec once per test file (about 1.5 s: a 2.6 MB gzipped database). */
export const loadCloudFormationSpec = (): Promise<SpecDatabase> => loadAwsServiceSpec();

interface TemplateResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly Condition?: string;
}

export interface Template {
  readonly Resources: Record<string, TemplateResource>;
  readonly Conditions?: Record<string, unknown>;
  readonly Parameters?: Record<string, unknown>;
  readonly Outputs?: Record<string, unknown>;
}

const PSEUDO_PARAMETERS = new Set([
  'AWS::AccountId',
  'AWS::NotificationARNs',
  'AWS::NoValue',
  'AWS::Partition',
  'AWS::Region',
  'AWS::StackId',
  'AWS::StackName',
  'AWS::URLSuffix',
]);

/** What a resource may hold besides its properties (a misspelt `Properties` would otherwise pass). */
const RESOURCE_KEYS = new Set([
  'Type',
  'Properties',
  'Condition',
  'DependsOn',
  'DeletionPolicy',
  'UpdateReplacePolicy',
  'UpdatePolicy',
  'CreationPolicy',
  'Metadata',
]);

/** `{ "Ref": … }` or `{ "Fn::…": … }`: a value only CloudFormation can work out. */
function isIntrinsic(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return keys.length === 1 && (keys[0] === 'Ref' || keys[0]!.startsWith('Fn::') || keys[0] === 'Condition');
}

/**
 * Every problem found, as `Resource.Path.To.Property: what is wrong`; empty when the template fits
 * the spec.
 */
export function validateAgainstSpec(template: Template, db: SpecDatabase): string[] {
  const problems: string[] = [];
  const resourceTypes = new Map<string, ReturnType<typeof lookupResource>>();
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    const spec = lookupResource(db, resource.Type);
    resourceTypes.set(logicalId, spec);
    if (!spec) problems.push(`${logicalId}: unknown resource type ${resource.Type}`);
  }

  const checkReferences = (value: unknown, path: string): void => {
    if (Array.isArray(value)) return value.forEach((item, i) => checkReferences(item, `${path}[${i}]`));
    if (typeof value !== 'object' || value === null) return;
    for (const [key, inner] of Object.entries(value)) {
      if (key === 'Ref' && typeof inner === 'string') checkRef(inner, path);
      if (key === 'Fn::GetAtt') checkGetAtt(inner, path);
      if (key === 'Fn::Sub') checkSub(inner, path);
      checkReferences(inner, `${path}.${key}`);
    }
  };
  const knownName = (name: string) =>
    PSEUDO_PARAMETERS.has(name) || name in template.Resources || name in (template.Parameters ?? {});
  const checkRef = (name: string, path: string) => {
    if (!knownName(name)) problems.push(`${path}: Ref to ${name}, which is neither a resource, a parameter nor a pseudo parameter`);
  };
  const checkGetAtt = (args: unknown, path: string) => {
    const [logicalId, attribute] = typeof args === 'string' ? splitOnce(args, '.') : (args as [string, unknown]);
    if (!(logicalId in template.Resources)) {
      problems.push(`${path}: Fn::GetAtt of ${logicalId}, which is not a resource of this template`);
      return;
    }
    const spec = resourceTypes.get(logicalId);
    if (spec && typeof attribute === 'string' && !(attribute in spec.attributes)) {
      problems.push(`${path}: ${template.Resources[logicalId]!.Type} has no attribute ${attribute} (Fn::GetAtt ${logicalId}.${attribute})`);
    }
  };
  const checkSub = (args: unknown, path: string) => {
    const [text, variables] = typeof args === 'string' ? [args, {}] : (args as [string, Record<string, unknown>]);
    for (const [, name] of text.matchAll(/\$\{(?!!)([^}]+)\}/g)) {
      if (name! in variables) continue;
      const [target, attribute] = splitOnce(name!, '.');
      if (attribute === undefined) checkRef(target, path);
      else checkGetAtt([target, attribute], path);
    }
  };

  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    for (const key of Object.keys(resource)) {
      if (!RESOURCE_KEYS.has(key)) problems.push(`${logicalId}: ${key} is not a resource attribute (${[...RESOURCE_KEYS].join(', ')})`);
    }
    const spec = resourceTypes.get(logicalId);
    if (spec) checkProperties(db, resource.Properties ?? {}, spec.properties, logicalId, problems);
    checkReferences(resource.Properties ?? {}, logicalId);
    if (resource.Condition !== undefined && !(resource.Condition in (template.Conditions ?? {}))) {
      problems.push(`${logicalId}: Condition ${resource.Condition} is not defined in Conditions`);
    }
  }
  checkReferences(template.Outputs ?? {}, 'Outputs');
  return problems;
}

function lookupResource(db: SpecDatabase, type: string) {
  return db.lookup('resource', 'cloudFormationType', 'equals', type)[0];
}

function splitOnce(text: string, separator: string): [string, string | undefined] {
  const at = text.indexOf(separator);
  return at < 0 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1)];
}

function checkProperties(
  db: SpecDatabase,
  values: Record<string, unknown>,
  properties: Record<string, Property>,
  path: string,
  problems: string[],
): void {
  for (const [name, value] of Object.entries(values)) {
    const property = properties[name];
    if (!property) {
      problems.push(`${path}.${name}: no such property (known: ${Object.keys(properties).sort().join(', ')})`);
      continue;
    }
    problems.push(...checkValue(db, value, property.type, `${path}.${name}`));
  }
  for (const [name, property] of Object.entries(properties)) {
    if (property.required && !(name in values)) problems.push(`${path}.${name}: required, but missing`);
  }
}

/** The problems of one value against one property type (a union passes when any branch does). */
function checkValue(db: SpecDatabase, value: unknown, type: PropertyType, path: string): string[] {
  if (isIntrinsic(value)) return [];
  switch (type.type) {
    case 'union': {
      const attempts = type.types.map((branch) => checkValue(db, value, branch, path));
      return attempts.find((problems) => problems.length === 0) ?? attempts[0] ?? [];
    }
    case 'ref': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        return [`${path}: expected an object, got ${JSON.stringify(value)}`];
      }
      const definition = db.get('typeDefinition', type.reference);
      const problems: string[] = [];
      checkProperties(db, value as Record<string, unknown>, definition.properties, path, problems);
      return problems;
    }
    case 'array':
      if (!Array.isArray(value)) return [`${path}: expected a list, got ${JSON.stringify(value)}`];
      return value.flatMap((item, i) => checkValue(db, item, type.element, `${path}[${i}]`));
    case 'map':
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        return [`${path}: expected a map, got ${JSON.stringify(value)}`];
      }
      return Object.entries(value).flatMap(([key, item]) => checkValue(db, item, type.element, `${path}.${key}`));
    case 'string':
      if (typeof value === 'object' && value !== null) return [`${path}: expected a string, got ${JSON.stringify(value)}`];
      if (type.allowedValues && typeof value === 'string' && !type.allowedValues.includes(value)) {
        return [`${path}: ${JSON.stringify(value)} is not one of ${type.allowedValues.join(', ')}`];
      }
      return [];
    case 'integer':
    case 'number':
      // CloudFormation takes numbers as JSON numbers or numeric strings.
      return Number.isFinite(Number(value)) && typeof value !== 'boolean' && value !== ''
        ? []
        : [`${path}: expected a number, got ${JSON.stringify(value)}`];
    case 'boolean':
      return typeof value === 'boolean' || value === 'true' || value === 'false'
        ? []
        : [`${path}: expected a boolean, got ${JSON.stringify(value)}`];
    case 'tag':
      return typeof value === 'object' && value !== null && 'Key' in value && 'Value' in value
        ? []
        : [`${path}: expected a {Key, Value} tag, got ${JSON.stringify(value)}`];
    default:
      // json, date-time, null: free-form as far as the spec says.
      return [];
  }
}
