/**
 * The one error type of doozer. Every failure a caller can see carries a stable `code`; tests and
 * clients branch on the code, never on the message. The HTTP status is mapped in exactly one place
 * (the app's `onError`), from `status`.
 */
export type ErrorCode =
  | 'invalid_request'
  | 'unknown_task'
  | 'unauthorized'
  | 'not_found'
  | 'method_not_allowed'
  | 'task_not_found'
  | 'task_ended'
  | 'payload_too_large'
  | 'idempotency_key_reused'
  | 'request_in_progress'
  | 'too_many_requests'
  | 'open_task_limit'
  | 'unavailable'
  | 'internal';

export interface DoozerErrorOptions {
  status?: number;
  cause?: unknown;
  /** Send the message to the client: by default only below 500, where it is about the request. */
  expose?: boolean;
  /** Seconds the caller should wait before trying again: sent as `Retry-After`. */
  retryAfterSeconds?: number;
}

/** Each code's HTTP status; the compiler keeps it complete, so its keys are every ErrorCode (the API document lists them). */
export const DEFAULT_STATUS: Readonly<Record<ErrorCode, number>> = {
  invalid_request: 400,
  unknown_task: 400,
  unauthorized: 401,
  not_found: 404,
  method_not_allowed: 405,
  task_not_found: 404,
  task_ended: 409,
  payload_too_large: 413,
  idempotency_key_reused: 422,
  request_in_progress: 409,
  too_many_requests: 429,
  open_task_limit: 429,
  unavailable: 503,
  internal: 500,
};

export class DoozerError extends Error {
  override readonly name: string = 'DoozerError';
  readonly code: ErrorCode;
  readonly status: number;
  readonly retryAfterSeconds: number | undefined;
  /** Below 500 the message is meant for the caller; at 500 and above it stays in the logs, unless said otherwise. */
  readonly expose: boolean;

  constructor(code: ErrorCode, message: string, options: DoozerErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.code = code;
    this.status = options.status ?? DEFAULT_STATUS[code];
    this.retryAfterSeconds = options.retryAfterSeconds ?? (code === 'unavailable' ? 1 : undefined);
    this.expose = options.expose ?? this.status < 500;
  }
}

export class InvalidRequestError extends DoozerError {
  override readonly name = 'InvalidRequestError';
  constructor(message: string, options: DoozerErrorOptions = {}) {
    super('invalid_request', message, options);
  }
}

export class UnauthorizedError extends DoozerError {
  override readonly name = 'UnauthorizedError';
  /** RFC 6750 error attribute: `invalid_token` when a token was presented but refused. */
  readonly bearerError: 'invalid_token' | undefined;
  constructor(message: string, options: DoozerErrorOptions & { bearerError?: 'invalid_token' } = {}) {
    super('unauthorized', message, options);
    this.bearerError = options.bearerError;
  }
}

export class TaskNotFoundError extends DoozerError {
  override readonly name = 'TaskNotFoundError';
  constructor(id: string) {
    super('task_not_found', `no task with id ${id}`);
  }
}

/**
 * Only an open task can be cancelled: this one has ended. The answer's error carries the task's
 * `state` (SUCCESS or FAILURE), so a client can tell without another lookup.
 */
export class TaskEndedError extends DoozerError {
  override readonly name = 'TaskEndedError';
  constructor(
    id: string,
    readonly state: string,
  ) {
    super('task_ended', `task ${id} has already ended (${state}); only SCHEDULED, PENDING or RETRY tasks can be cancelled`);
  }
}

/** The path exists, but not for this method: the answer's `Allow` header lists the methods that do. */
export class MethodNotAllowedError extends DoozerError {
  override readonly name = 'MethodNotAllowedError';
  constructor(
    method: string,
    path: string,
    readonly allow: readonly string[],
  ) {
    super('method_not_allowed', `${method} is not allowed on ${path}; allowed: ${allow.join(', ')}`);
  }
}

export class PayloadTooLargeError extends DoozerError {
  override readonly name = 'PayloadTooLargeError';
  constructor(limitBytes: number) {
    super('payload_too_large', `request body is larger than ${limitBytes} bytes`);
  }
}

/** Too many failed attempts (e.g. logins for one user): try again after `retryAfterSeconds`. */
export class TooManyRequestsError extends DoozerError {
  override readonly name = 'TooManyRequestsError';
  constructor(message: string, retryAfterSeconds: number) {
    super('too_many_requests', message, { retryAfterSeconds });
  }
}

/**
 * The caller has as many open tasks as they may: a submission is accepted once some end. Apart from
 * too_many_requests (the rate), whose remedy is to slow down, not to wait for tasks to end.
 */
export class OpenTaskLimitError extends DoozerError {
  override readonly name = 'OpenTaskLimitError';
  constructor(message: string, retryAfterSeconds: number) {
    super('open_task_limit', message, { retryAfterSeconds });
  }
}

/** The Idempotency-Key was already used by this user for a different request. */
export class IdempotencyKeyReusedError extends DoozerError {
  override readonly name = 'IdempotencyKeyReusedError';
  constructor(message: string) {
    super('idempotency_key_reused', message);
  }
}

/** The first request with this Idempotency-Key has not recorded its task yet: try again shortly. */
export class RequestInProgressError extends DoozerError {
  override readonly name = 'RequestInProgressError';
  constructor(message: string, retryAfterSeconds = 1) {
    super('request_in_progress', message, { retryAfterSeconds });
  }
}

/** A dependency (the queue or the store) could not be reached or answered with a server fault. */
export class UnavailableError extends DoozerError {
  override readonly name = 'UnavailableError';
  constructor(message: string, options: DoozerErrorOptions = {}) {
    super('unavailable', message, options);
  }
}

/**
 * The codes a task can end FAILURE with from doozer itself; a task's own TaskError may add codes of
 * its own (lower-case letters, digits and underscores).
 */
export const TASK_FAILURE_CODES = {
  invalid_args: 'the queued args fail the task\'s schema (the API checks them first, so only a task changed since)',
  unknown_task: 'no task of that name (one removed since the task was queued)',
  timeout: 'the task ran longer than its `timeoutSeconds`',
  task_failed: 'the task threw an error; after its retries, when it has any',
  invalid_result: 'the task returned a result its result schema refuses',
  result_too_large: 'the result is more than 256 KiB of JSON',
  enqueue_failed: 'the task could not be queued; submit it again',
  retries_exhausted: 'every delivery of the task met an outage or a lost worker',
} as const;

export type TaskFailureCode = keyof typeof TASK_FAILURE_CODES;

/**
 * Not a DoozerError: it is no answer of the API but what a task's own code throws, and ends in the
 * task's `error` (TaskFailure), never in an HTTP status.
 *
 * A task that cannot produce a result: thrown by a task's `run`, it ends the task in FAILURE with
 * this code and message, at once (a retry would fail the same way). Any other error thrown by `run`
 * is retried as the task's `retries` allow, then ends it with `task_failed`.
 */
export class TaskError extends Error {
  override readonly name = 'TaskError';
  constructor(
    /** Lower-case letters, digits and underscores, e.g. `not_found`. */
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}
