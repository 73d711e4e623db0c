import type { TaskState } from './types.ts';

/**
 * Errors of the client. Each has a stable `code`: the API's error code for answers from the
 * service, `unreachable` when no answer came, `timeout` when a wait ran out.
 */
export class DoozerClientError extends Error {
  override readonly name: string = 'DoozerClientError';
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The service answered with an error (`{"error":{"code","message"}}`). */
export class DoozerApiError extends DoozerClientError {
  override readonly name: string = 'DoozerApiError';
  constructor(
    readonly status: number,
    code: string,
    message: string,
  ) {
    super(code, message);
  }
}

/** No answer: the URL is wrong, the service is down, or the request timed out. */
export class DoozerConnectionError extends DoozerClientError {
  override readonly name = 'DoozerConnectionError';
  constructor(
    readonly url: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('unreachable', message, options);
  }
}

/**
 * The 409 `task_ended` of a cancel: the task had already ended, as `state` says (SUCCESS or FAILURE),
 * so there was nothing to cancel.
 */
export class DoozerTaskEndedError extends DoozerApiError {
  override readonly name = 'DoozerTaskEndedError';
  constructor(
    message: string,
    readonly state: TaskState,
  ) {
    super(409, 'task_ended', message);
  }
}

/** The `RateLimit-*` headers of an answer: the requests a window allows, those left, and seconds until it resets. */
export interface RateLimitInfo {
  readonly limit?: number;
  readonly remaining?: number;
  readonly resetSeconds?: number;
}

/**
 * A 429: too many requests for now (the rate limit, or too many open tasks, as `message` says; for
 * the login, too many wrong passwords or logins at once). Nothing was done: the API refuses before
 * it records anything, so the same request may be sent again after `retryAfterSeconds`.
 */
export class DoozerRateLimitError extends DoozerApiError {
  override readonly name = 'DoozerRateLimitError';
  /** The answer's `Retry-After`, in seconds; undefined when it had none (or one not understood). */
  readonly retryAfterSeconds: number | undefined;
  /** The answer's `RateLimit-*` headers; undefined when it had none. */
  readonly rateLimit: RateLimitInfo | undefined;
  /** True when the login (`POST /auth/token`) was refused, not a request made with a token. */
  readonly login: boolean;
  /** True when this is the answer to the one retry that `retryOn429` made. */
  readonly retried: boolean;
  constructor(
    code: string,
    message: string,
    details: { retryAfterSeconds?: number | undefined; rateLimit?: RateLimitInfo | undefined; login?: boolean; retried?: boolean } = {},
  ) {
    super(429, code, message);
    this.retryAfterSeconds = details.retryAfterSeconds;
    this.rateLimit = details.rateLimit;
    this.login = details.login ?? false;
    this.retried = details.retried ?? false;
  }
}

/**
 * Why a completion webhook was not accepted by verifyWebhook: `missing_headers` (a `webhook-*`
 * header is absent), `invalid_timestamp` (not Unix seconds, or more than 5 minutes off this
 * machine's clock: a replay or a stale delivery), `invalid_signature` (another secret signed it, or
 * the body or id was altered), `invalid_body` (signed, but not a task view as JSON).
 */
export type WebhookVerificationCode = 'missing_headers' | 'invalid_timestamp' | 'invalid_signature' | 'invalid_body';

/** A completion webhook that must not be trusted; `code` says why (see WebhookVerificationCode). */
export class WebhookVerificationError extends DoozerClientError {
  override readonly name = 'WebhookVerificationError';
  declare readonly code: WebhookVerificationCode;
  constructor(code: WebhookVerificationCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
