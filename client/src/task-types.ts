import type { JsonSchema, TaskType } from './types.ts';

/**
 * `doozer tasks`: the task types of `GET /task-types` as text, their args and results described
 * from their JSON Schemas in a few words (`ms: integer, 0..120000`, `array of 1..1000 integers
 * (number or decimal string)`). It reads what the API's schemas use (zod's JSON Schema); anything
 * else still reads as something sensible, and `doozer tasks --json` has the schemas themselves.
 */

const WIDTH = 100;
const SAFE = Number.MAX_SAFE_INTEGER;
/** The pattern of an exact integer sent as a decimal string (lib/tasks/exact-integer.ts). */
const DECIMAL_INTEGER_PATTERN = /^\^-\?\\d\{1,\d+\}\$$/;
const TYPE_WORDS = new Set(['integer', 'number', 'string', 'boolean', 'object', 'array', 'null']);
/** References are followed this deep: a recursive schema ends in "…". */
const MAX_DEPTH = 8;

/** The lines of `doozer tasks`. */
export function formatTaskTypes(types: readonly TaskType[]): string[] {
  const lines: string[] = [];
  for (const type of types) {
    lines.push(`${type.name} — time limit ${type.timeoutSeconds} s, ${retries(type.retries)}`);
    lines.push(...wrap(type.description, '  '));
    lines.push(...schemaLines('args:  ', type.args));
    lines.push(...schemaLines('result:', type.result ?? {}));
    lines.push('');
  }
  lines.push(`Run one with: doozer run <task> '<args as JSON>', or doozer run <task> --arg key=value ...`);
  return lines;
}

/**
 * A schema under its label: objects with fields one field a line, anything else on the label's
 * line.
 */
export function schemaLines(label: string, schema: unknown): string[] {
  const fields = fieldLines(schema, schema);
  if (fields === undefined) return [`  ${label} ${describeSchema(schema)}`];
  return [`  ${label.trimEnd()}`, ...fields.map((line) => `    ${line}`)];
}

/** One line per field of an object schema (`ms: integer, 0..120000`); undefined for other schemas. */
export function fieldLines(schema: unknown, root: unknown = schema): string[] | undefined {
  const node = resolve(schema, root, 0);
  if (!isSchema(node) || typeOf(node) !== 'object' || !isSchema(node.properties)) return undefined;
  const required = new Set(Array.isArray(node.required) ? node.required : []);
  const lines = Object.entries(node.properties).map(([key, property]) => {
    const optional = required.has(key) ? '' : ', optional';
    const resolved = resolve(property, root, 0);
    const description = isSchema(resolved) && typeof resolved.description === 'string' && !isExactInteger(resolved) ? ` — ${resolved.description}` : '';
    return `${key}: ${describeSchema(property, root)}${optional}${description}`;
  });
  const extra = additional(node, root, 0);
  if (extra) lines.push(extra);
  return lines.length > 0 ? lines : ['(no fields: send {})'];
}

/** A schema in a few words, on one line. */
export function describeSchema(schema: unknown, root: unknown = schema, depth = 0): string {
  if (depth > MAX_DEPTH) return '…';
  if (schema === true) return 'any JSON';
  if (schema === false) return 'nothing';
  if (!isSchema(schema)) return 'any JSON';
  if (typeof schema.$ref === 'string') return describeSchema(resolve(schema, root, depth), root, depth + 1);
  const text = describeNode(schema, root, depth);
  return 'default' in schema ? `${text}, default ${JSON.stringify(schema.default)}` : text;
}

function describeNode(schema: JsonSchema, root: unknown, depth: number): string {
  const inner = (child: unknown) => describeSchema(child, root, depth + 1);
  if ('const' in schema) return JSON.stringify(schema.const);
  if (Array.isArray(schema.enum)) return `one of ${schema.enum.map((value) => JSON.stringify(value)).join(', ')}`;
  if (isExactInteger(schema)) return 'integer (number or decimal string)';
  const union = Array.isArray(schema.anyOf) ? schema.anyOf : Array.isArray(schema.oneOf) ? schema.oneOf : undefined;
  if (union) return union.map(inner).join(' or ');
  if (Array.isArray(schema.allOf)) return schema.allOf.map(inner).join(' and ');
  if (Array.isArray(schema.type)) return schema.type.map((type) => describeNode({ ...schema, type }, root, depth)).join(' or ');
  const type = typeOf(schema);
  switch (type) {
    case 'integer':
    case 'number':
      return withBounds(type, numberBounds(schema));
    case 'string':
      return withBounds('string', [
        typeof schema.format === 'string' ? schema.format : undefined,
        range(schema.minLength, schema.maxLength, 'characters'),
        // A format says it better than the pattern that checks it (zod sends both).
        typeof schema.pattern === 'string' && typeof schema.format !== 'string' ? `matching /${schema.pattern}/` : undefined,
      ]);
    case 'boolean':
    case 'null':
      return type;
    case 'array':
      return describeArray(schema, root, depth);
    case 'object':
      return describeObject(schema, root, depth);
    default:
      return 'any JSON';
  }
}

function describeArray(schema: JsonSchema, root: unknown, depth: number): string {
  if (Array.isArray(schema.prefixItems)) {
    const items = schema.prefixItems.map((item) => describeSchema(item, root, depth + 1));
    return `[${items.join(', ')}${schema.items === false ? '' : ', …'}]`;
  }
  const items = schema.items === undefined ? undefined : resolve(schema.items, root, depth);
  const min = typeof schema.minItems === 'number' ? schema.minItems : undefined;
  const max = typeof schema.maxItems === 'number' ? schema.maxItems : undefined;
  const count = min !== undefined && max !== undefined ? (min === max ? `${min} ` : `${min}..${max} `) : '';
  const of = items === undefined || items === true ? `${count}items (any JSON)` : `${count}${plural(items, root, depth)}`;
  const alone = count === '' ? range(min, max, 'items') : undefined;
  return alone ? `array of ${of}, ${alone}` : `array of ${of}`;
}

function describeObject(schema: JsonSchema, root: unknown, depth: number): string {
  const fields = isSchema(schema.properties) ? schema.properties : {};
  const required = new Set(Array.isArray(schema.required) ? schema.required : []);
  const parts = Object.entries(fields).map(([key, value]) => `${key}${required.has(key) ? '' : '?'}: ${describeSchema(value, root, depth + 1)}`);
  const extra = additional(schema, root, depth);
  if (extra) parts.push(extra);
  if (parts.length === 0) return schema.additionalProperties === false ? '{}' : 'object';
  return `{ ${parts.join('; ')} }`;
}

/** `other keys: X` for an object that takes keys beyond its properties, of schema X. */
function additional(schema: JsonSchema, root: unknown, depth: number): string | undefined {
  const extra = schema.additionalProperties;
  if (extra === undefined || extra === false) return undefined;
  const label = isSchema(schema.properties) && Object.keys(schema.properties).length > 0 ? 'other keys' : 'any key';
  return `${label}: ${describeSchema(extra, root, depth + 1)}`;
}

/** The items of an array in the plural: `integers, 0..9`, `objects { … }`, `(string or null)`. */
function plural(items: unknown, root: unknown, depth: number): string {
  const text = describeSchema(items, root, depth + 1);
  const union = isSchema(items) && !isExactInteger(items) && (Array.isArray(items.anyOf) || Array.isArray(items.oneOf) || Array.isArray(items.type) || Array.isArray(items.enum));
  if (union) return `(${text})`;
  if (text.startsWith('{')) return `objects ${text}`;
  const [word = '', ...rest] = text.split(/(?=[ ,])/);
  return TYPE_WORDS.has(word) ? `${word}s${rest.join('')}` : `items: ${text}`;
}

function numberBounds(schema: JsonSchema): (string | undefined)[] {
  // z.int() bounds every integer by the safe range: that says nothing to a reader.
  const min = typeof schema.minimum === 'number' && schema.minimum !== -SAFE ? schema.minimum : undefined;
  const max = typeof schema.maximum === 'number' && schema.maximum !== SAFE ? schema.maximum : undefined;
  return [
    range(min, max),
    typeof schema.exclusiveMinimum === 'number' ? `more than ${schema.exclusiveMinimum}` : undefined,
    typeof schema.exclusiveMaximum === 'number' ? `less than ${schema.exclusiveMaximum}` : undefined,
    typeof schema.multipleOf === 'number' ? `a multiple of ${schema.multipleOf}` : undefined,
  ];
}

function range(min: unknown, max: unknown, unit = ''): string | undefined {
  const suffix = unit ? ` ${unit}` : '';
  const low = typeof min === 'number' ? min : undefined;
  const high = typeof max === 'number' ? max : undefined;
  if (low !== undefined && high !== undefined) return low === high ? `exactly ${low}${suffix}` : `${low}..${high}${suffix}`;
  if (low !== undefined) return low === 0 && unit ? undefined : `at least ${low}${suffix}`;
  if (high !== undefined) return `at most ${high}${suffix}`;
  return undefined;
}

function withBounds(type: string, notes: readonly (string | undefined)[]): string {
  return [type, ...notes.filter((note) => note !== undefined)].join(', ');
}

/** An exact integer as lib/tasks/exact-integer.ts sends it: a safe JSON integer, or a decimal string. */
function isExactInteger(schema: JsonSchema): boolean {
  const options = Array.isArray(schema.anyOf) ? schema.anyOf : Array.isArray(schema.oneOf) ? schema.oneOf : undefined;
  if (options?.length !== 2) return false;
  const integer = options.find((option) => isSchema(option) && option.type === 'integer');
  const decimal = options.find((option) => isSchema(option) && option.type === 'string' && typeof option.pattern === 'string');
  return integer !== undefined && isSchema(decimal) && DECIMAL_INTEGER_PATTERN.test(decimal.pattern as string);
}

/** Follows a local `$ref` (`#/$defs/Name`, `#/definitions/Name`) within the document. */
function resolve(schema: unknown, root: unknown, depth: number): unknown {
  let node = schema;
  for (let hops = depth; isSchema(node) && typeof node.$ref === 'string' && hops <= MAX_DEPTH; hops += 1) {
    const ref: string = node.$ref;
    if (!ref.startsWith('#')) return {};
    node = ref
      .slice(1)
      .split('/')
      .filter((part) => part !== '')
      .map((part) => decodeURIComponent(part).replace(/~1/g, '/').replace(/~0/g, '~'))
      .reduce<unknown>((at, part) => (isSchema(at) ? at[part] : undefined), root);
  }
  return node ?? {};
}

function typeOf(schema: JsonSchema): unknown {
  if (schema.type !== undefined) return schema.type;
  return isSchema(schema.properties) ? 'object' : undefined;
}

function isSchema(value: unknown): value is JsonSchema {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function retries(count: number): string {
  if (count === 0) return 'no retries';
  return count === 1 ? '1 retry' : `${count} retries`;
}

/** Words of `text` in lines of at most WIDTH columns, each after `indent`. */
function wrap(text: string, indent: string): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter((part) => part !== '')) {
    if (line !== '' && indent.length + line.length + 1 + word.length > WIDTH) {
      lines.push(`${indent}${line}`);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  if (line !== '') lines.push(`${indent}${line}`);
  return lines;
}
