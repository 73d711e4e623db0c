import type { Context } from 'hono';
import * as z from 'zod/mini';
import { InvalidRequestError, TaskError } from '../errors.ts';
import { MAX_ARG_DIGITS, parseInteger } from '../tasks/integers.ts';
import { MAX_ARGS, MAX_RESULT_DIGITS, MIN_ARGS, TASK_NAMES } from '../tasks/registry.ts';

/** The largest request body accepted, in bytes. */
export const MAX_BODY_BYTES = 64 * 1024;

const JSON_TYPE = /^application\/(?:[\w.-]+\+)?json\s*(?:;|$)/i;

const requiredString = (what: string) =>
  z.string({ error: (issue) => (issue.input === undefined ? `${what} is required` : `${what} must be a string`) });

/** The body of `POST /auth/token`. */
export const CredentialsSchema = z
  .strictObject({
    username: requiredString('username').check(z.minLength(1, 'username must not be empty')),
    password: requiredString('password').check(z.minLength(1, 'password must not be empty')),
  })
  .check(
    z.meta({
      description:
        'A user name and its password. Five wrong passwords for one user name within 15 minutes lock its logins ' +
        'until the window ends (429).',
      examples: [{ username: 'doozer', password: 'doozer' }],
    }),
  );

/**
 * The message for a task argument the schema refused. The task registry's integer reader words it,
 * so the API names the argument and the problem exactly as the worker would (`args[2] must be ...`).
 */
function argumentMessage(issue: z.core.$ZodRawIssue): string {
  const index = issue.path?.at(-1);
  const label = typeof index === 'number' ? `args[${index}]` : 'args[]';
  try {
    parseInteger(issue.input, label);
  } catch (error) {
    if (error instanceof TaskError) return error.message;
    throw error;
  }
  return `${label} must be an integer (a JSON number or a decimal string)`;
}

const argumentError = { error: argumentMessage };

/**
 * One task argument: an exact integer, as a JSON number within the safe-integer range (beyond it
 * JSON.parse has already rounded it) or as a decimal string of up to 1,000 digits. The same rule as
 * `parseInteger` in lib/tasks/integers.ts, which the worker applies again; a test keeps the two equal.
 */
export const TaskArgumentSchema = z
  .union(
    [
      z.int(argumentError),
      z.string(argumentError).check(z.regex(new RegExp(`^-?\\d{1,${MAX_ARG_DIGITS}}$`), argumentError)),
    ],
    argumentError,
  )
  .check(
    z.meta({
      description:
        `An exact integer: a JSON number within ±${Number.MAX_SAFE_INTEGER} (beyond that JSON has already rounded it), ` +
        `or a decimal string of up to ${MAX_ARG_DIGITS} digits with an optional minus sign. ` +
        'JSON cannot tell `1.0` or `1E2` from `1` and `100`, so those count as the integers they equal; `1.5` is refused.',
      examples: [42, '-123456789012345678901234567890'],
    }),
  );

const argsLengthMessage = (issue: { input?: unknown }) =>
  `args must hold ${MIN_ARGS} to ${MAX_ARGS} integers, got ${(issue.input as unknown[]).length}`;

/** The body of `POST /tasks` and of the benchmark's `POST /bench/floor`. */
export const TaskRequestSchema = z
  .strictObject({
    name: z.enum(TASK_NAMES, {
      error: (issue) => {
        if (issue.input === undefined) return 'name is required';
        if (typeof issue.input !== 'string') return 'name must be a string';
        return `unknown task ${JSON.stringify(issue.input)}; known tasks: ${TASK_NAMES.join(', ')}`;
      },
    }),
    args: z
      .array(TaskArgumentSchema, {
        error: (issue) => (issue.input === undefined ? 'args is required' : 'args must be an array of integers'),
      })
      .check(z.minLength(MIN_ARGS, { error: argsLengthMessage }), z.maxLength(MAX_ARGS, { error: argsLengthMessage })),
  })
  .check(
    z.meta({
      description:
        '`add` sums and `mul` multiplies the arguments, exactly. ' +
        `Checked beyond this schema: a \`mul\` whose arguments have more than ${MAX_RESULT_DIGITS} digits in all is refused (400) ` +
        'before it runs (a product has at most that many digits); a key repeated in one object is refused (400); ' +
        `the body must be \`application/json\` (else 415) of at most ${MAX_BODY_BYTES} bytes (else 413).`,
      examples: [
        { name: 'add', args: [1, 2, 3, 4, 5, 6] },
        { name: 'mul', args: ['123456789012345678901234567890', 2] },
      ],
    }),
  );

/** Reads a JSON body and validates it; every failure is a 4xx that names the problem. */
export async function readJson<T extends z.ZodMiniType>(c: Context, schema: T): Promise<z.output<T>> {
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
  const result = schema.safeParse(value);
  if (!result.success) throw new InvalidRequestError(describeIssues(result.error));
  return result.data;
}

const QUOTE = 0x22; // "
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;

/**
 * The first key that appears twice in one object of `text`, or undefined. JSON.parse keeps the last
 * value of a repeated key without a word, so `{"name":"add","name":"mul"}` would run whatever the
 * last one says while a proxy or log that reads the first sees another request.
 *
 * `text` must be what JSON.parse accepted and `parsed` its result: the scanner trusts the grammar.
 * The fast path needs no scan: every member of an object has its own colon, so when the text has no
 * more colons than the parsed objects have keys, no key was lost (the usual body). Otherwise a
 * single pass keeps a set of keys per open object. It is written here rather than taken from a
 * streaming parser because the ones that fit (jsonc-parser's `visit`, momoa) recurse per nesting
 * level and overflow the stack on a 64 KiB body of `{"a":{"a":…` that JSON.parse accepts; this loop
 * keeps its own stack.
 */
export function findDuplicateKey(text: string, parsed: unknown): string | undefined {
  if (countOf(text, ':') <= countKeys(parsed)) return undefined;
  // One entry per open container: the keys seen so far in an object, null for an array.
  const open: (Set<string> | null)[] = [];
  let expectingKey = false;
  for (let at = 0; at < text.length; at++) {
    switch (text.charCodeAt(at)) {
      case QUOTE: {
        const end = closingQuote(text, at);
        const keys = open.at(-1);
        if (expectingKey && keys) {
          const raw = text.slice(at + 1, end);
          // Escapes spell one key many ways ("a" and "\u0061"): compare what JSON.parse would make.
          const key = raw.includes('\\') ? (JSON.parse(text.slice(at, end + 1)) as string) : raw;
          if (keys.has(key)) return key;
          keys.add(key);
        }
        expectingKey = false;
        at = end;
        break;
      }
      case OPEN_BRACE:
        open.push(new Set());
        expectingKey = true;
        break;
      case OPEN_BRACKET:
        open.push(null);
        break;
      case CLOSE_BRACE:
      case CLOSE_BRACKET:
        open.pop();
        break;
      case COMMA:
        expectingKey = open.at(-1) != null;
        break;
    }
  }
  return undefined;
}

/** The index of the quote that closes the string opening at `start`: the next one not escaped. */
function closingQuote(text: string, start: number): number {
  let quote = text.indexOf('"', start + 1);
  for (;;) {
    let backslashes = 0;
    while (text.charCodeAt(quote - 1 - backslashes) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return quote;
    quote = text.indexOf('"', quote + 1);
  }
}

function countOf(text: string, char: string): number {
  let count = 0;
  for (let at = text.indexOf(char); at !== -1; at = text.indexOf(char, at + 1)) count++;
  return count;
}

/** Own keys of every object inside `value`, counted without recursion (JSON.parse allows any depth). */
function countKeys(value: unknown): number {
  let count = 0;
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const item = pending.pop();
    if (typeof item !== 'object' || item === null) continue;
    const children = Array.isArray(item) ? item : Object.values(item);
    if (!Array.isArray(item)) count += children.length;
    for (const child of children) if (typeof child === 'object' && child !== null) pending.push(child);
  }
  return count;
}

/** A key for an error message: JSON-quoted, and cut short when long. */
function quoteKey(key: string): string {
  return JSON.stringify(key.length > 40 ? `${key.slice(0, 40)}…` : key);
}

/** Issues named in one message; a body of 1,000 bad arguments gets the first few, not a 50 KB message. */
const MAX_ISSUES_DESCRIBED = 3;

function describeIssues(error: z.core.$ZodError): string {
  const more = error.issues.length - MAX_ISSUES_DESCRIBED;
  const described = error.issues
    .slice(0, MAX_ISSUES_DESCRIBED)
    .map((issue) => {
      if (issue.code === 'unrecognized_keys') return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')}`;
      if (issue.path.length === 0 && issue.code === 'invalid_type') return 'the body must be a JSON object';
      return issue.message;
    })
    .join('; ');
  return more > 0 ? `${described}; and ${more} more` : described;
}
