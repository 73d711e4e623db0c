import type { Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { createMiddleware } from 'hono/factory';
import * as z from 'zod/mini';
import { InvalidRequestError, PayloadTooLargeError } from '../errors.ts';
import { describeIssues } from '../tasks/schema-issues.ts';
import { MAX_BATCH_BODY_BYTES, MAX_BATCH_TASKS, MAX_BODY_BYTES, MAX_NESTING, findDuplicateKey, nestingDepth } from './json-limits.ts';

/**
 * The body of `POST /tasks/batch` as far as the batch itself goes: `{"tasks": [...]}` with 1 to
 * 100 items. Each item is checked on its own (TaskCatalog), so one bad item refuses only itself.
 */
export const BatchBodySchema = z.strictObject({
  tasks: z.array(z.unknown(), { error: (issue) => (issue.input === undefined ? 'is required' : 'must be an array of task requests') }).check(
    z.minLength(1, 'must hold at least one task'),
    z.maxLength(MAX_BATCH_TASKS, `must hold at most ${MAX_BATCH_TASKS} tasks; split the batch`),
  ),
});

const JSON_TYPE = /^application\/(?:[\w.-]+\+)?json\s*(?:;|$)/i;

const requiredString = z.string({ error: (issue) => (issue.input === undefined ? 'is required' : 'must be a string') });

/** The body of `POST /auth/token`. */
export const CredentialsSchema = z
  .strictObject({
    username: requiredString.check(z.minLength(1, 'must not be empty')),
    password: requiredString.check(z.minLength(1, 'must not be empty')),
  })
  .check(
    z.meta({
      description:
        'A user name and its password. Five wrong passwords for one user name within 15 minutes lock its logins ' +
        'until the window ends (429).',
      examples: [{ username: 'doozer', password: 'doozer' }],
    }),
  );

/** Middleware that answers 413 to a body over `maxSize` bytes: by its Content-Length, or as it is read. */
function limitBodyTo(maxSize: number) {
  return bodyLimit({
    maxSize,
    onError: () => {
      throw new PayloadTooLargeError(maxSize);
    },
  });
}

/** The size limit of every JSON body but a batch's. */
export const limitBody = limitBodyTo(MAX_BODY_BYTES);

/** The size limit of the body of `POST /tasks/batch`. */
export const limitBatchBody = limitBodyTo(MAX_BATCH_BODY_BYTES);

/**
 * Middleware that reads the JSON body and hands it to `parse`, Hono's validator pattern: the route's
 * handler gets the parsed, typed value from `c.get('body')` and never sees the raw body. Every
 * failure is a 4xx that names the problem: not JSON (415), malformed, a key given twice in one
 * object, or whatever `parse` refuses (it throws a DoozerError).
 */
export function jsonBody<T>(parse: (value: unknown) => T) {
  return createMiddleware<{ Variables: { body: T } }>(async (c, next) => {
    c.set('body', parse(await readJson(c)));
    await next();
  });
}

/** `parse` for a zod schema: its output, or a 400 naming up to three faults. */
export function bySchema<T extends z.ZodMiniType>(schema: T): (value: unknown) => z.output<T> {
  return (value) => {
    const result = schema.safeParse(value, { reportInput: true });
    if (!result.success) throw new InvalidRequestError(describeIssues(result.error.issues));
    return result.data;
  };
}

async function readJson(c: Context): Promise<unknown> {
  const type = c.req.header('content-type');
  if (!type || !JSON_TYPE.test(type)) {
    throw new InvalidRequestError(`send the body as JSON with Content-Type: application/json (got ${type ?? 'none'})`, {
      status: 415,
    });
  }
  const text = await c.req.text();
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new InvalidRequestError(`the body is not valid JSON: ${(error as Error).message}`);
  }
  const duplicate = findDuplicateKey(text, value);
  if (duplicate !== undefined) {
    throw new InvalidRequestError(`the body has the key ${quoteKey(duplicate)} more than once in one object`);
  }
  if (nestingDepth(value) > MAX_NESTING) {
    throw new InvalidRequestError(`the body nests arrays and objects more than ${MAX_NESTING} deep; flatten it`);
  }
  return value;
}

/** A key for an error message: JSON-quoted, and cut short when long. */
function quoteKey(key: string): string {
  return JSON.stringify(key.length > 40 ? `${key.slice(0, 40)}…` : key);
}
