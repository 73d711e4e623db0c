import type { Context } from 'hono';
import { z } from 'zod';
import { InvalidRequestError } from '../errors.ts';

/** The largest request body accepted, in bytes. */
export const MAX_BODY_BYTES = 64 * 1024;

const JSON_TYPE = /^application\/(?:[\w.-]+\+)?json\s*(?:;|$)/i;

const requiredString = (what: string) =>
  z.string({ error: (issue) => (issue.input === undefined ? `${what} is required` : `${what} must be a string`) });

export const CredentialsSchema = z.strictObject({
  username: requiredString('username').min(1, 'username must not be empty'),
  password: requiredString('password').min(1, 'password must not be empty'),
});

export const TaskRequestSchema = z.strictObject({
  name: requiredString('name'),
  // Each argument is checked by the task registry, which names the one that is wrong.
  args: z.array(z.unknown(), {
    error: (issue) => (issue.input === undefined ? 'args is required' : 'args must be an array of integers'),
  }),
});

/** Reads a JSON body and validates it; every failure is a 4xx that names the problem. */
export async function readJson<T extends z.ZodType>(c: Context, schema: T): Promise<z.output<T>> {
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
  const result = schema.safeParse(value);
  if (!result.success) throw new InvalidRequestError(describeIssues(result.error));
  return result.data;
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      if (issue.code === 'unrecognized_keys') return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')}`;
      if (issue.path.length === 0 && issue.code === 'invalid_type') return 'the body must be a JSON object';
      return issue.message;
    })
    .join('; ');
}
