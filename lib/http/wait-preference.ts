import { InvalidRequestError } from '../errors.ts';
import { MAX_WAIT_SECONDS } from '../tasks/wait-policy.ts';

export interface WaitPreference {
  readonly ms: number;
  /** The `Preference-Applied` header value, when a Prefer header was honoured. */
  readonly applied: string | undefined;
}

const WAIT_QUERY = /^\d+(\.\d+)?$/;

/**
 * How long a request waits for its task to end. `?wait=N` (0 to 5 seconds) is explicit, so a bad
 * value is a 400; `Prefer` (RFC 7240) is a hint, so a bad value is ignored and a large one capped.
 * `respond-async` alone means "do not wait"; with `wait=N` it means "wait at most N".
 */
export function resolveWait(query: string | undefined, prefer: string | undefined, defaultSeconds: number): WaitPreference {
  if (query !== undefined) {
    const seconds = WAIT_QUERY.test(query) ? Number(query) : Number.NaN;
    if (!(seconds >= 0 && seconds <= MAX_WAIT_SECONDS)) {
      throw new InvalidRequestError(`wait must be a number of seconds from 0 to ${MAX_WAIT_SECONDS}, got ${JSON.stringify(query)}`);
    }
    return { ms: Math.round(seconds * 1000), applied: undefined };
  }
  const preferences = parsePrefer(prefer);
  const wait = preferences.get('wait');
  const seconds = wait !== undefined && /^\d+$/.test(wait) ? Math.min(Number(wait), MAX_WAIT_SECONDS) : undefined;
  if (seconds !== undefined) return { ms: seconds * 1000, applied: `wait=${seconds}` };
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
