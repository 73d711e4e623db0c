import { DEFAULT_USER_LIMITS } from '../../limits/user-limits.ts';
import type { JsonSchema } from './json-schema.ts';

const header = (description: string, schema: JsonSchema) => ({ description, schema });

/** Response headers, by name: the document's `components.headers`. */
export const HEADERS = {
  Location: header('Where to look the task up: `/tasks/<id>`.', {
    type: 'string',
    examples: ['/tasks/task_1db8fd1f-aff0-4db6-9c9a-ada3d20cb006'],
  }),
  'Retry-After': header('Seconds to wait before trying again or looking the task up.', { type: 'integer', minimum: 0 }),
  'Preference-Applied': header('The `Prefer` preference that was honoured: `wait=N` or `respond-async`.', { type: 'string' }),
  'Idempotent-Replayed': header('`true` when the answer is the task of an earlier request with the same `Idempotency-Key`.', {
    type: 'string',
    enum: ['true'],
  }),
  Allow: header('The methods the path answers.', { type: 'string', examples: ['GET, HEAD, OPTIONS'] }),
  'WWW-Authenticate': header('`Bearer realm="doozer"`, with `error="invalid_token"` when a token was sent but refused.', {
    type: 'string',
  }),
  // The caller's request rate (lib/limits/user-limits.ts), by the draft-07 field names of
  // draft-ietf-httpapi-ratelimit-headers, which clients and gateways read today.
  'RateLimit-Limit': header('Your burst: the requests your rate limit lets you make at once when you have made none for a while.', {
    type: 'integer',
    minimum: 1,
    examples: [DEFAULT_USER_LIMITS.burst],
  }),
  'RateLimit-Remaining': header('The requests you could still make now, at once; 0 on a 429 of the rate limit.', {
    type: 'integer',
    minimum: 0,
  }),
  'RateLimit-Reset': header('Seconds until your whole burst is available again; 0 when it is.', { type: 'integer', minimum: 0 }),
  'RateLimit-Policy': header(
    '`<burst>;w=<seconds>`: your burst, and the seconds it takes to come back once spent (burst / your requests per second, ' +
      'rounded up). Requests come back one at a time, evenly over that window.',
    {
      type: 'string',
      pattern: '^\\d+;w=\\d+$',
      examples: [`${DEFAULT_USER_LIMITS.burst};w=${Math.ceil(DEFAULT_USER_LIMITS.burst / DEFAULT_USER_LIMITS.requestsPerSecond)}`],
    },
  ),
} as const;

export type HeaderName = keyof typeof HEADERS;

/** `{"<name>": {$ref}, …}`: the named response headers of an answer. */
export const headerRefs = (names: readonly HeaderName[]) => Object.fromEntries(names.map((name) => [name, { $ref: `#/components/headers/${name}` }]));

/**
 * On every answer to a request whose bearer token was accepted, errors included: the caller is known
 * and their request counted. Not on a 401 (no caller yet), nor on the routes without a token.
 */
export const RATE_LIMIT: readonly HeaderName[] = ['RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset', 'RateLimit-Policy'];
