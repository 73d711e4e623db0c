import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * The slice of a structured logger the core needs. Powertools Logger satisfies it in the Lambdas;
 * tests pass a silent one.
 */
export type LogFields = Record<string, unknown>;

export interface Logger {
  info(message: string, ...fields: LogFields[]): void;
  warn(message: string, ...fields: LogFields[]): void;
  error(message: string, ...fields: LogFields[]): void;
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };

/** Keys for the lines of a unit of work; a function value is called when a line is written. */
export type LogKeys = Record<string, unknown>;

/**
 * The keys of the unit of work the current async context belongs to: an HTTP request (request id,
 * user), an SQS record (task id, message id). They live in AsyncLocalStorage rather than on the
 * shared Powertools logger (`appendKeys`/`resetKeys`) because one process runs several units at
 * once: the records of a batch run concurrently, and serverless-offline (`--useInProcess`) serves
 * concurrent requests in one process. So keys reach neither the next unit nor a concurrent one, and
 * there is nothing to reset. One store per process: a unit of work is a property of the async
 * context, whichever logger writes in it.
 */
const scopes = new AsyncLocalStorage<LogKeys>();

/** Runs `fn` in a unit of work whose lines carry `keys`, added to those of the enclosing unit, if any. */
export function withLogKeys<T>(keys: LogKeys, fn: () => T): T {
  return scopes.run({ ...scopes.getStore(), ...keys }, fn);
}

/** Adds keys to the current unit of work, for the rest of it; outside any unit it does nothing. */
export function appendLogKeys(keys: LogKeys): void {
  const scope = scopes.getStore();
  if (scope) Object.assign(scope, keys);
}

/**
 * The current unit's keys, resolved: a function value is called (it reads state that changes during
 * the unit, such as the user once authenticated); undefined and null values are left out.
 */
export function currentLogKeys(): LogFields {
  const resolved: LogFields = {};
  for (const [key, value] of Object.entries(scopes.getStore() ?? {})) {
    const current = typeof value === 'function' ? (value as () => unknown)() : value;
    if (current !== undefined && current !== null) resolved[key] = current;
  }
  return resolved;
}

const scopedLoggers = new WeakSet<Logger>();

/**
 * `base`, with the current unit's keys on every line (before the line's own fields, which win over a
 * key of the same name). Wrapping a logger this returned gives it back unchanged.
 */
export function scopedLogger(base: Logger): Logger {
  if (scopedLoggers.has(base)) return base;
  const logger: Logger = {
    info: (message, ...fields) => base.info(message, currentLogKeys(), ...fields),
    warn: (message, ...fields) => base.warn(message, currentLogKeys(), ...fields),
    error: (message, ...fields) => base.error(message, currentLogKeys(), ...fields),
  };
  scopedLoggers.add(logger);
  return logger;
}
