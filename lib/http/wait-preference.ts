import * as z from 'zod/mini';
import { InvalidRequestError } from '../errors.ts';
import { MAX_WAIT_SECONDS } from '../tasks/wait-policy.ts';

export interface WaitPreference {
  readonly ms: number;
  /** The `Preference-Applied` header value, when a Prefer header was honoured. */
  readonly applied: string | undefined;
}

/**
 * Decimal seconds from 0 to MAX_WAIT_SECONDS, written as a pattern so the API document states the
 * range exactly: leading zeros allowed, any fraction below the maximum, only zeros after it. It
 * assumes a one-digit maximum; test/unit/request-schemas.test.ts checks it against the arithmetic.
 */
const WAIT_SECONDS = new RegExp(`^0*(?:[0-${MAX_WAIT_SECONDS - 1}](?:\\.\\d+)?|${MAX_WAIT_SECONDS}(?:\\.0+)?)$`);

/**
 * `?wait=N` on `POST /tasks` and `GET /tasks/{id}`. No `examples`: the API document's Try it out
 * would send one, and any wait changes what the request does (`parameter` in lib/http/openapi/parameters.ts).
 */
export const WaitQuerySchema = z.string().check(
  z.regex(WAIT_SECONDS),
  z.meta({
    description:
      `Seconds to wait for the task to end, 0 to ${MAX_WAIT_SECONDS} (decimals allowed, e.g. \`2.5\`); anything else is a 400. ` +
      '`0` answers at once (on `POST /tasks`, 202 unless the task has already ended). Wins over a `Prefer` header. ' +
      `Leave it out to wait the default: up to ${MAX_WAIT_SECONDS} s on \`POST /tasks\`, none on \`GET /tasks/{id}\`.`,
  }),
);

/** The value of `wait=` in a Prefer header: whole seconds. */
const PreferWaitSchema = z.string().check(z.regex(/^\d+$/));

/**
 * The Prefer header (RFC 7240): a hint, so what it cannot use is ignored rather than refused. No
 * `examples`, as for `?wait=`: a prefilled `respond-async` would stop Try it out from waiting.
 */
export const PreferHeaderSchema = z.string().check(
  z.meta({
    description:
      `\`wait=N\` (whole seconds, capped at ${MAX_WAIT_SECONDS}; e.g. \`wait=2\`) sets how long to wait for the task to end; ` +
      '`respond-async` alone means do not wait. An honoured preference is echoed in `Preference-Applied`; ' +
      'anything else is ignored, never refused. `?wait=` wins over it.',
  }),
);

/**
 * How long a request waits for its task to end. `?wait=N` (0 to 5 seconds) is explicit, so a bad
 * value is a 400; `Prefer` (RFC 7240) is a hint, so a bad value is ignored and a large one capped.
 * `respond-async` alone means "do not wait"; with `wait=N` it means "wait at most N".
 */
export function resolveWait(query: string | undefined, prefer: string | undefined, defaultSeconds: number): WaitPreference {
  if (query !== undefined) {
    if (!WaitQuerySchema.safeParse(query).success) {
      throw new InvalidRequestError(`wait must be a number of seconds from 0 to ${MAX_WAIT_SECONDS}, got ${JSON.stringify(query)}`);
    }
    return { ms: Math.round(Number(query) * 1000), applied: undefined };
  }
  const preferences = parsePrefer(prefer);
  const wait = PreferWaitSchema.safeParse(preferences.get('wait'));
  if (wait.success) {
    const seconds = Math.min(Number(wait.data), MAX_WAIT_SECONDS);
    return { ms: seconds * 1000, applied: `wait=${seconds}` };
  }
  if (preferences.has('respond-async')) return { ms: 0, applied: 'respond-async' };
  return { ms: defaultSeconds * 1000, applied: undefined };
}

/** Preference tokens (lower-cased) to their values; parameters after `;` are not used here. */
function parsePrefer(header: string | undefined): Map<string, string | undefined> {
  const preferences = new Map<string, string | undefined>();
  for (const part of (header ?? '').split(',')) {
    const [token = '', value] = (part.split(';')[0] ?? '').split('=').map((s) => s.trim());
    if (token) preferences.set(token.toLowerCase(), value?.replace(/^"(.*)"$/, '$1'));
  }
  return preferences;
}
