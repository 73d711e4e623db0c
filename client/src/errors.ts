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
  override readonly name = 'DoozerApiError';
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
