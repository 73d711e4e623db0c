import { randomUUID } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import { type Logger, scopedLogger, withLogKeys } from '../logger.ts';
import { isTaskId } from '../tasks/task.ts';

/**
 * What the app keeps on the context for the log lines: the user once it is known, the task a /tasks
 * route answered with, and the code of an error answer (the app sets them where it builds them).
 */
export type LoggedVariables = { user?: string; taskId?: string; errorCode?: string };
type LoggedEnv = { Variables: LoggedVariables };

/** Longest path an access line repeats: paths come from anyone, ids are 41 characters. */
const MAX_LOGGED_PATH = 256;

/**
 * Structured logs for the HTTP API: every line written while a request runs carries its keys, and
 * each request ends with one access line (`request`: method, route, path, status, durationMs, and the
 * error code when it failed).
 *
 * The keys:
 * - `requestId`: API Gateway's `requestContext.requestId` on Lambda (hono/aws-lambda passes it in
 *   `c.env`), the id API Gateway returns in `apigw-requestid` and writes to its access logs;
 *   elsewhere (tests, a plain Node server) a random UUID.
 * - `function_request_id`: the Lambda invocation's awsRequestId when there is one. Powertools'
 *   `addContext` sets the same key per invocation; repeating it per request keeps it right when one
 *   process serves concurrent requests (serverless-offline in process).
 * - `user`: the user of the verified bearer token, from the moment `requireUser` sets it, or the
 *   user a successful `POST /auth/token` logged in. Absent (never null) before that, on `/health`,
 *   on a refused login and when the token was refused.
 * - `taskId`: on `/tasks/:id`, the id in the path (when it is a task id); on `POST /tasks`, the id
 *   of the task created or replayed, in the access line (the task service's own lines name it).
 *   Taken from the context, where the app sets it as it builds the answer, as it does the error
 *   code: the access line never reads the response body again.
 *
 * It never logs a body, a header or a query string: no password, no token, no Authorization header.
 * The keys belong to the request's async context (`withLogKeys`), so they end with it and never
 * reach another request. Lines carry them when written through a `scopedLogger`, as the app's
 * dependencies are built (lib/dependencies.ts); the access line always does.
 */
export function requestLogging(logger: Logger): MiddlewareHandler<LoggedEnv> {
  const scoped = scopedLogger(logger);
  return async (c, next) => {
    const started = performance.now();
    const keys = {
      requestId: apiGatewayRequestId(c.env) ?? randomUUID(),
      function_request_id: lambdaRequestId(c.env),
      user: () => c.get('user'),
      taskId: () => c.get('taskId') ?? taskIdInPath(c),
    };
    await withLogKeys(keys, async () => {
      try {
        await next();
      } finally {
        const errorCode = c.get('errorCode');
        scoped.info('request', {
          method: c.req.method,
          route: matchedRoute(c),
          path: c.req.path.slice(0, MAX_LOGGED_PATH),
          status: c.res.status,
          durationMs: Math.round((performance.now() - started) * 10) / 10,
          ...(errorCode !== undefined && { code: errorCode }),
        });
      }
    });
  };
}

function apiGatewayRequestId(env: unknown): string | undefined {
  const id = (env as { requestContext?: { requestId?: unknown } } | undefined)?.requestContext?.requestId;
  return typeof id === 'string' && id !== '' ? id : undefined;
}

function lambdaRequestId(env: unknown): string | undefined {
  const id = (env as { lambdaContext?: { awsRequestId?: unknown } } | undefined)?.lambdaContext?.awsRequestId;
  return typeof id === 'string' && id !== '' ? id : undefined;
}

/** The route pattern that answered (`/tasks/:id`), or undefined when no route did (404). */
function matchedRoute(c: Context): string | undefined {
  const route = routePath(c, -1);
  return route === '' || route === '*' || route === '/*' ? undefined : route;
}

function taskIdInPath(c: Context): string | undefined {
  if (!matchedRoute(c)?.startsWith('/tasks/')) return undefined;
  const id = c.req.param('id');
  return id !== undefined && isTaskId(id) ? id : undefined;
}
