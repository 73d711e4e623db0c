import type { Context, ErrorHandler, NotFoundHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { DoozerError, type ErrorCode, MethodNotAllowedError, TaskEndedError, UnauthorizedError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { AppEnv } from './app-env.ts';

/**
 * The one place errors become HTTP answers: every error, thrown anywhere in a request, is answered
 * with its status and the one error shape, `{"error":{"code","message"}}`. Below 500 the message is
 * the client's (`expose`); at 500 and above the client gets a generic one and the log the detail.
 */

/** What the client gets at 500 and above in place of the error's own message. */
const GENERIC_MESSAGES: Partial<Record<ErrorCode, string>> = {
  unavailable: 'the service is temporarily unavailable; try again shortly',
  internal: 'internal error',
};

/** `app.onError`: an error thrown by a route or a middleware, as an error answer. */
export function answerError(logger: Logger): ErrorHandler<AppEnv> {
  return async (thrown, c) => {
    // A submission refused before its admission was decided (a bad body): its answer carries the
    // RateLimit headers too, and a request over the rate is answered 429 whatever else was wrong.
    let error = thrown;
    try {
      await c.get('admission');
    } catch (refusal) {
      error = refusal as Error;
    }
    if (error instanceof DoozerError) {
      if (!error.expose) logger.error('request failed', { code: error.code, error });
      return errorResponse(c, error);
    }
    if (error instanceof HTTPException && error.status < 500) {
      return errorResponse(c, new DoozerError(codeForStatus(error.status), error.message, { status: error.status }));
    }
    logger.error('unhandled error', { error });
    return errorResponse(c, new DoozerError('internal', 'internal error', { cause: error }));
  };
}

/** `app.notFound`: a path no route serves. */
export const answerNotFound: NotFoundHandler<AppEnv> = (c) =>
  errorResponse(c, new DoozerError('not_found', `no route for ${c.req.method} ${c.req.path}`));

/** The one error shape: `{"error":{"code","message"}}`. */
function errorResponse(c: Context<AppEnv>, error: DoozerError): Response {
  c.set('errorCode', error.code);
  if (error instanceof UnauthorizedError) {
    c.header(
      'WWW-Authenticate',
      error.bearerError ? `Bearer realm="doozer", error="${error.bearerError}"` : 'Bearer realm="doozer"',
    );
  }
  if (error instanceof MethodNotAllowedError) c.header('Allow', error.allow.join(', '));
  if (error.retryAfterSeconds !== undefined) c.header('Retry-After', String(Math.ceil(error.retryAfterSeconds)));
  const message = error.expose ? error.message : (GENERIC_MESSAGES[error.code] ?? 'internal error');
  // A 409 on cancel says what the task ended as, so a client need not look it up.
  const state = error instanceof TaskEndedError ? { state: error.state } : {};
  return c.json({ error: { code: error.code, message, ...state } }, error.status as ContentfulStatusCode);
}

/** The code of an HTTPException Hono or its middleware threw below 500. */
function codeForStatus(status: number): ErrorCode {
  if (status === 401) return 'unauthorized';
  if (status === 404) return 'not_found';
  if (status === 413) return 'payload_too_large';
  return 'invalid_request';
}
