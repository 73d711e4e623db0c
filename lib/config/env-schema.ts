// zod/mini: the same schemas at a fraction of the bundle size and import time (cold start).
import * as z from 'zod/mini';

/**
 * How settings are read from the environment and how a bad one is reported: the schema helpers every
 * function's settings are built from, and the one ConfigError that lists every problem.
 */

// `${env:X, ''}` in serverless.yml hands functions empty strings for unset values: treat them as unset.
export const unsetIfEmpty = z.transform((value: unknown) => (value === '' ? undefined : value));
export const optional = <T extends z.ZodMiniType>(schema: T) => z.pipe(unsetIfEmpty, z.optional(schema));
export const withDefault = <T extends z.ZodMiniType<unknown, unknown>>(schema: T, fallback: z.input<T>) =>
  z.pipe(
    z.transform((value: unknown): unknown => (value === '' || value === undefined ? fallback : value)),
    schema,
  );

/** The settings as a refinement sees them: it may run when some failed, so nothing is assumed. */
export type RawSettings = Partial<Record<string, unknown>>;

export const isSet = (value: unknown) => value !== undefined && value !== '';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** `schema`'s output for `env`, or a ConfigError listing every problem. */
export function parse<T extends z.ZodMiniType>(schema: T, env: NodeJS.ProcessEnv): z.output<T> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  throw misconfigured(describeIssues(result.error.issues));
}

/** One line per issue, `  SETTING.path: message`; `source` renames the setting a value came from. */
export function describeIssues(issues: readonly z.core.$ZodIssue[], source = (setting: string) => setting): string[] {
  return issues.map((issue) => {
    const [setting, ...rest] = issue.path.map(String);
    const where = setting === undefined ? '(environment)' : [source(setting), ...rest].join('.');
    return `  ${where}: ${issue.message}`;
  });
}

export function misconfigured(problems: readonly string[]): ConfigError {
  return new ConfigError(`doozer is misconfigured:\n${problems.join('\n')}`);
}

/** `value`, frozen all the way down: the core receives its configuration read-only. */
export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
