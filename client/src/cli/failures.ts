/**
 * How the CLI ends when something goes wrong: each failure as an exit code, a line for stderr that
 * names the problem and a fix, and the JSON error that --json prints instead.
 */
import { CommanderError } from 'commander';
import type { RateLimitRetry } from '../client-options.ts';
import { DoozerApiError, DoozerClientError, DoozerConnectionError, DoozerRateLimitError, DoozerTaskEndedError } from '../errors.ts';
import { InputError, clipQuoted } from '../input.ts';
import { SettingsError } from '../settings.ts';

export const EXIT = { done: 0, taskFailed: 1, usage: 2, auth: 3, unavailable: 4, waitTimedOut: 5, refused: 6 } as const;

/** The longest Retry-After of a 429 that doozer waits out (once) before it gives up. */
export const MAX_RATE_LIMIT_WAIT_SECONDS = 5;

/**
 * What --json prints on stdout for a failure, as `{"error":{...}}`: a stable `code` (the API's own
 * for its answers; `usage`, `invalid_input`, `invalid_settings`, `unreachable` for the CLI's), the
 * message, and the HTTP `status` when the service answered.
 */
export interface JsonError {
  readonly code: string;
  readonly message: string;
  readonly status?: number;
  /** A 429's Retry-After, in seconds. */
  readonly retryAfterSeconds?: number;
  /** The state a task to cancel had ended in. */
  readonly state?: string;
}

export interface Failure {
  readonly exitCode: number;
  /** The line for stderr, after `doozer: `; none when commander has printed its own. */
  readonly text?: string;
  readonly error: JsonError;
}

/** Maps every error a command throws to its failure; undefined for commander's help, which is no failure. */
export function describeFailure(error: unknown): Failure | undefined {
  if (error instanceof CommanderError) {
    if (error.exitCode === 0) return undefined;
    return { exitCode: EXIT.usage, error: { code: 'usage', message: clipQuoted(error.message.replace(/^error: /, '')) } };
  }
  if (error instanceof InputError) return plain(EXIT.usage, 'invalid_input', error.message);
  if (error instanceof SettingsError) return plain(EXIT.usage, 'invalid_settings', error.message);
  if (error instanceof DoozerConnectionError) {
    return {
      exitCode: EXIT.unavailable,
      text: `${error.message}. Is the service running? Start the local stack with \`npm start\`, or point --url / DOOZER_URL at it.`,
      error: { code: error.code, message: error.message },
    };
  }
  if (error instanceof DoozerApiError) return describeApiError(error);
  if (error instanceof DoozerClientError) return plain(EXIT.taskFailed, error.code, error.message);
  return plain(EXIT.taskFailed, 'internal_error', (error as Error)?.message ?? String(error));
}

function plain(exitCode: number, code: string, message: string): Failure {
  return { exitCode, text: message, error: { code, message } };
}

function describeApiError(error: DoozerApiError): Failure {
  const json: JsonError = {
    code: error.code,
    message: error.message,
    status: error.status,
    ...(error instanceof DoozerRateLimitError && error.retryAfterSeconds !== undefined && { retryAfterSeconds: error.retryAfterSeconds }),
    ...(error instanceof DoozerTaskEndedError && { state: error.state }),
  };
  const failure = (exitCode: number, text: string): Failure => ({ exitCode, text, error: json });
  if (error.status === 401) {
    return failure(EXIT.auth, `authentication failed: ${error.message}. Check --username/--password (or DOOZER_USERNAME/DOOZER_PASSWORD, or the config file).`);
  }
  // Too many wrong passwords from here, or too many logins at once: for a while.
  if (error instanceof DoozerRateLimitError && error.login) return failure(EXIT.auth, `logins refused for now: ${error.message}. Check --username/--password meanwhile.`);
  // Nothing was done, and nothing is wrong with the request: like an outage, it is for later.
  if (error.status === 429) return failure(EXIT.unavailable, describeRateLimit(error));
  if (error.status === 404 && error.code === 'task_not_found') return failure(EXIT.taskFailed, `${error.message}. Check the id, or it may have expired.`);
  if (error instanceof DoozerTaskEndedError) return failure(EXIT.taskFailed, error.message);
  if (error.status >= 500) return failure(EXIT.unavailable, `the service answered ${error.status} ${error.code}: ${error.message}`);
  return failure(EXIT.refused, `the service refused the request (${error.status} ${error.code}): ${error.message}`);
}

/** The stderr line before a retry: `rate limited (RateLimit-Remaining 0); retrying in 2 s`. */
export function describeRetry({ error, waitSeconds }: RateLimitRetry): string {
  const openTasks = error.code === 'open_task_limit';
  const what = error.login ? 'logins refused for now' : openTasks ? 'too many open tasks' : 'rate limited';
  const remaining = error.rateLimit?.remaining;
  // The headers say it all for the rate limit; the open-task limit needs its message (its numbers).
  const why = openTasks || remaining === undefined ? error.message : remaining === 0 ? 'RateLimit-Remaining 0' : `${error.message}; RateLimit-Remaining ${remaining}`;
  return `${what} (${why}); retrying in ${waitSeconds} s`;
}

/** The message of a 429 that doozer did not (or no longer) wait out, naming the wait the service asks for. */
function describeRateLimit(error: DoozerApiError): string {
  const limited = error instanceof DoozerRateLimitError ? error : undefined;
  const remaining = limited?.rateLimit?.remaining;
  // The request rate's own numbers; beside the open-task limit they would only confuse.
  const headers = remaining === undefined || error.code === 'open_task_limit' ? '' : ` (RateLimit-Remaining ${remaining})`;
  const wait = limited?.retryAfterSeconds;
  const when = wait === undefined ? 'try again later' : `try again in ${wait} s`;
  const refused = `the service refused the request${limited?.retried ? ' again after one retry' : ''} (${error.status} ${error.code}): ${error.message}${headers}`;
  if (!limited?.retried && wait !== undefined && wait > MAX_RATE_LIMIT_WAIT_SECONDS) {
    return `${refused}; it asks to wait ${wait} s, longer than doozer waits (${MAX_RATE_LIMIT_WAIT_SECONDS} s): ${when}.`;
  }
  // The service's message may say when already ("…; try again in 2 s").
  return /try again in \d+ s$/.test(error.message) ? `${refused}.` : `${refused}; ${when}.`;
}
