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
