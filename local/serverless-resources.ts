import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { QUEUE_SETTINGS } from './settings.ts';

/**
 * serverless.yml's CloudFormation resources (`resources.Resources`), read the way the Serverless
 * Framework resolves them for one stage, so the local stack creates its queues and table from the
 * one definition AWS gets (local/provision.ts). `serverless print` does the same but takes seconds
 * (it loads the whole Framework and its plugins). This parses the file with the Framework's own
 * reader (CloudFormation tags and YAML merge keys as it takes them; serverless.bench.mjs uses it
 * too), in a few tens of milliseconds, and resolves the variable sources the file uses: `self:`,
 * `sls:stage`, `opt:stage`, `env:` and `file(./infra/task-limits.cjs)`, with fallbacks
 * (`${env:X, 'default'}`). Any other is an error that names it. test/deploy/local-resources.test.ts
 * checks the result against `serverless print`.
 */

const SERVERLESS_YML = fileURLToPath(new URL('../serverless.yml', import.meta.url));

/** The Framework's reader of a configuration file (osls, a devDependency pinned to one version). */
const readConfiguration = createRequire(import.meta.url)('serverless/lib/configuration/read.js') as (path: string) => Promise<Record<string, unknown>>;

/** serverless.yml as data, its variables not resolved yet. */
export type ServerlessYml = Readonly<Record<string, unknown>>;

/** A resource as the template holds it once resolved: intrinsic functions in their long form (`{ Ref: … }`). */
export interface TemplateResource {
  readonly Type: string;
  readonly Properties: Readonly<Record<string, unknown>>;
}

export interface ResolveOptions {
  readonly stage: string;
  /** What `${env:…}` reads: the environment the Framework would run in. */
  readonly env: Readonly<Record<string, string | undefined>>;
}

/**
 * What `${file(…)}` reads, by path. infra/task-limits.cjs bundles and runs TaskCatalog(TASKS)
 * .queueSettings() for the Framework; this process has computed the same already (local/settings.ts).
 */
const FILES: Readonly<Record<string, unknown>> = { './infra/task-limits.cjs': QUEUE_SETTINGS };

let reading: Promise<ServerlessYml> | undefined;

/** Reads serverless.yml (once a process). */
export function readServerlessYml(): Promise<ServerlessYml> {
  reading ??= readConfiguration(SERVERLESS_YML);
  return reading;
}

/** The resources of `yml` of the given types, by logical id, resolved for `options.stage`. */
export function serverlessResources(yml: ServerlessYml, types: readonly string[], options: ResolveOptions): Record<string, TemplateResource> {
  const resources = (yml.resources as { Resources?: Record<string, { Type: string; Properties?: unknown }> } | undefined)?.Resources ?? {};
  const context = { yml, ...options };
  return Object.fromEntries(
    Object.entries(resources)
      .filter(([, resource]) => types.includes(resource.Type))
      .map(([id, resource]) => [id, { Type: resource.Type, Properties: resolve(resource.Properties ?? {}, context, 0) as Record<string, unknown> }]),
  );
}

interface Context extends ResolveOptions {
  readonly yml: ServerlessYml;
}

/** Deeper than any chain of variables the file holds: a cycle, not a chain. */
const MAX_DEPTH = 20;

function resolve(value: unknown, context: Context, depth: number): unknown {
  if (typeof value === 'string') return resolveText(value, context, depth);
  if (Array.isArray(value)) return value.map((item) => resolve(item, context, depth));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, resolve(item, context, depth)]));
  }
  return value;
}

/** The innermost variable of a text: nothing inside it is a variable. */
const INNERMOST_VARIABLE = /\$\{([^${}]*)\}/;

/**
 * Resolves the variables of `text`, innermost first (`${self:a.${sls:stage}}`). A text that is one
 * variable is its value, of whatever type; variables within a longer text are written into it.
 */
function resolveText(text: string, context: Context, depth: number): unknown {
  let rest = text;
  for (let match = INNERMOST_VARIABLE.exec(rest); match; match = INNERMOST_VARIABLE.exec(rest)) {
    const value = resolveVariable(match[1]!, context, depth);
    if (match[0] === rest) return value;
    rest = `${rest.slice(0, match.index)}${String(value)}${rest.slice(match.index + match[0].length)}`;
  }
  return rest;
}

/** `source, fallback, …`: the first that has a value (not undefined or null), as the Framework takes it. */
function resolveVariable(body: string, context: Context, depth: number): unknown {
  if (depth > MAX_DEPTH) throw new Error(`serverless.yml: \${${body}} refers to itself`);
  for (const source of splitSources(body)) {
    const value = readSource(source, context, depth);
    if (value !== undefined && value !== null) return value;
  }
  throw new Error(`serverless.yml: \${${body}} has no value for the stage ${context.stage}`);
}

/** The comma-separated sources of a variable; a comma within quotes is not a separator. */
function splitSources(body: string): string[] {
  const sources: string[] = [];
  let quote: string | undefined;
  let start = 0;
  for (let index = 0; index < body.length; index += 1) {
    const char = body[index]!;
    if (quote) {
      if (char === quote) quote = undefined;
    } else if (char === "'" || char === '"') {
      quote = char;
    } else if (char === ',') {
      sources.push(body.slice(start, index).trim());
      start = index + 1;
    }
  }
  sources.push(body.slice(start).trim());
  return sources;
}

/** One source of a variable: a literal (`'text'`, `7`, `false`), or a source of values (`self:custom.x`). */
function readSource(source: string, context: Context, depth: number): unknown {
  const quoted = /^(['"])(.*)\1$/.exec(source);
  if (quoted) return quoted[2];
  if (source === 'true' || source === 'false') return source === 'true';
  if (source === 'null') return null;
  if (source !== '' && !Number.isNaN(Number(source))) return Number(source);
  const file = /^file\(([^)]+)\)(?::(.+))?$/.exec(source);
  if (file) {
    if (!Object.hasOwn(FILES, file[1]!)) throw new Error(`serverless.yml: local/serverless-resources.ts cannot read \${${source}}: teach it that file`);
    return file[2] === undefined ? FILES[file[1]!] : pathOf(FILES[file[1]!], file[2]);
  }
  const colon = source.indexOf(':');
  const address = source.slice(colon + 1);
  switch (colon === -1 ? source : source.slice(0, colon)) {
    case 'self':
      return resolve(pathOf(context.yml, address), context, depth + 1);
    case 'sls':
      if (address === 'stage') return context.stage;
      break;
    case 'opt':
      return address === 'stage' ? context.stage : undefined;
    case 'env':
      return context.env[address];
  }
  throw new Error(`serverless.yml: local/serverless-resources.ts cannot resolve \${${source}}`);
}

/** The value at a dotted path (`custom.names.queue`), or undefined. */
function pathOf(value: unknown, path: string): unknown {
  let current = value;
  for (const key of path.split('.')) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}
