import { type Context, Hono } from 'hono';
import type { LoginThrottle } from '../auth/login-throttle.ts';
import type { TokenIssuer } from '../auth/tokens.ts';
import type { UserDirectory } from '../auth/users.ts';
import type { UserProfiles } from '../auth/user-profiles.ts';
import type { RequestRateStore } from '../ports.ts';
import type { TargetPolicy } from '../webhooks/target-policy.ts';
import { DoozerError, InvalidRequestError, MethodNotAllowedError, UnauthorizedError } from '../errors.ts';
import { type Logger, silentLogger } from '../logger.ts';
import { isTerminal, toTaskView } from '../tasks/task.ts';
import type { TaskCatalog } from '../tasks/task-catalog.ts';
import type { BatchItem, TaskService } from '../tasks/task-service.ts';
import { MAX_WAIT_SECONDS } from '../tasks/wait-policy.ts';
import type { AppEnv } from './app-env.ts';
import { authMiddleware } from './auth-middleware.ts';
import { callbackResolver } from './callback-url.ts';
import { answerError, answerNotFound } from './error-handling.ts';
import { openApiJson } from './openapi/document.ts';
import { answerOtherMethods } from './other-methods.ts';
import { CredentialsSchema, bySchema, jsonBody, limitBatchBody, limitBody } from './request-body.ts';
import { taskBodyParsers } from './task-bodies.ts';
import { batchResultView, retryAfter, taskResponse } from './task-responses.ts';
import { taskTypesJson } from './task-types.ts';
import { requestLogging } from './request-logging.ts';
import { readIdempotencyKey, readListQuery, readTaskId } from './request-params.ts';
import { type ReadinessProbe, checkReadiness } from './readiness.ts';
import { resolveWait } from './wait-preference.ts';

export interface AppDependencies {
  /** The tasks there are: the contract of `POST /tasks`, `GET /task-types` and the API document. */
  readonly catalog: TaskCatalog;
  readonly tasks: TaskService;
  readonly users: UserDirectory;
  readonly tokens: TokenIssuer;
  /** Limits login attempts per user name and client address. Always set in the Lambdas. */
  readonly loginThrottle?: LoginThrottle;
  /**
   * The client's address, from the connection (on Lambda, API Gateway's source IP), never from a
   * header a client can set. Without it every caller shares one address for the login limits.
   */
  readonly clientAddress?: (c: Context) => string | undefined;
  /** What `GET /ready` checks: the store and the queue in the Lambdas; nothing when unset. */
  readonly readiness?: readonly ReadinessProbe[];
  readonly logger?: Logger;
  /** Each user's limits, webhook secret and default callbackUrl; without it, no limits and no webhooks. */
  readonly profiles?: UserProfiles;
  /** Where each user's request rate is counted; without it requests are not limited. */
  readonly rates?: RequestRateStore;
  /** Where callbacks may go (the local stage allows loopback); without it callbackUrl is refused. */
  readonly callbackPolicy?: TargetPolicy;
}

/** The login limits' address for a caller whose address is not known. */
const UNKNOWN_ADDRESS = 'unknown';

/**
 * The HTTP API. It knows nothing about Lambda: handlers/api.ts wraps it with `handle(app)`, and
 * tests call `app.request(...)` directly.
 */
export function createApp(deps: AppDependencies): Hono<AppEnv> {
  const logger = deps.logger ?? silentLogger;
  const app = new Hono<AppEnv>();
  app.use(requestLogging(logger));

  const { requireUser, requireSubmitter } = authMiddleware(deps);
  const callbackOf = callbackResolver(deps);
  const { taskBody, batchBody } = taskBodyParsers(deps.catalog);

  app.get('/health', (c) => c.json({ status: 'ok' }));
  app.get('/ready', async (c) => {
    await checkReadiness(deps.readiness ?? [], logger);
    return c.json({ status: 'ready' });
  });
  // The API document (OpenAPI 3.1, generated: openapi/document.ts); the web function renders it at /docs.
  app.get('/openapi.json', (c) => c.body(openApiJson(deps.catalog), 200, { 'content-type': 'application/json' }));
  app.get('/task-types', (c) => c.body(taskTypesJson(deps.catalog), 200, { 'content-type': 'application/json' }));

  app.post('/auth/token', limitBody, jsonBody(bySchema(CredentialsSchema)), async (c) => {
    const { username, password } = c.get('body');
    // Counted before the password is checked: a burst of guesses cannot race past the limit.
    const attempt = await deps.loginThrottle?.begin(username, deps.clientAddress?.(c) ?? UNKNOWN_ADDRESS);
    try {
      await deps.users.authenticate(username, password);
    } catch (error) {
      // Only a wrong password stays counted; one that was never checked (no capacity) is not a guess.
      if (!(error instanceof UnauthorizedError)) await attempt?.giveBack();
      throw error;
    }
    await attempt?.succeeded();
    // From here the caller is that user: the access line of a successful login says who it was.
    c.set('user', username);
    return c.json(await deps.tokens.issue(username));
  });

  app.post('/tasks', requireSubmitter, limitBody, taskBody, async (c) => {
    const wait = resolveWait(c.req.query('wait'), c.req.header('prefer'), MAX_WAIT_SECONDS);
    const { input, runLater, callbackUrl: requested } = c.get('body');
    const callback = callbackOf(c.get('user'), requested);
    if ('refused' in callback) throw new InvalidRequestError(callback.refused);
    const options = { ...runLater, ...callback, admission: c.get('admission') };
    // With an Idempotency-Key, a repeated request gets the task of the first one (docs/http-api.md, "Idempotency").
    const key = readIdempotencyKey(c);
    const { task, replayed } =
      key === undefined
        ? { task: await deps.tasks.submit(c.get('user'), input, wait.ms, options), replayed: false }
        : await deps.tasks.submitOnce(c.get('user'), key, input, wait.ms, options);
    await c.get('admission');
    if (replayed) c.header('Idempotent-Replayed', 'true');
    if (isTerminal(task.state)) return taskResponse(c, task, 200, wait);
    c.header('Location', `/tasks/${task.id}`);
    c.header('Retry-After', retryAfter(task));
    return taskResponse(c, task, 202, wait);
  });

  app.get('/tasks', requireUser, async (c) => {
    const query = readListQuery(c);
    // A misspelt name must not list nothing in silence, as an unknown task is refused everywhere else.
    if (query.name !== undefined && !deps.catalog.get(query.name)) {
      throw new DoozerError('unknown_task', `unknown task ${JSON.stringify(query.name)}; known tasks: ${deps.catalog.names.join(', ')}`);
    }
    const page = await deps.tasks.list(c.get('user'), query);
    return c.json({ tasks: page.tasks.map(toTaskView), next: page.next ?? null });
  });

  app.post('/tasks/batch', requireSubmitter, limitBatchBody, batchBody, async (c) => {
    // A batch never waits: a `?wait=` meant for it must not pass for one that was honoured.
    const query = Object.keys(c.req.queries());
    if (query.length > 0) {
      throw new InvalidRequestError(`POST /tasks/batch takes no query parameters (got ${query.slice(0, 3).join(', ')}); a batch is answered at once, without waiting`);
    }
    const { items, digest } = c.get('body');
    const user = c.get('user');
    // Each item's callbackUrl, or its owner's default, checked like POST /tasks: a bad one refuses its item alone.
    const withCallbacks = items.map((item): BatchItem => {
      if (!item.ok) return item;
      const callback = callbackOf(user, item.task.callbackUrl);
      if ('refused' in callback) return { ok: false, error: { code: 'invalid_request', message: callback.refused } };
      return { ok: true, task: { ...item.task, ...callback } };
    });
    const key = readIdempotencyKey(c);
    const { results, replayed } = await deps.tasks.submitBatch(
      user,
      withCallbacks,
      key === undefined ? undefined : { key, requestDigest: digest },
      c.get('admission'),
    );
    await c.get('admission');
    if (replayed) c.header('Idempotent-Replayed', 'true');
    return c.json({ results: results.map(batchResultView) });
  });

  app.post('/tasks/:id/cancel', requireUser, async (c) => {
    const id = readTaskId(c);
    c.set('taskId', id);
    return c.json(toTaskView(await deps.tasks.cancel(c.get('user'), id)));
  });

  app.get('/tasks/:id', requireUser, async (c) => {
    // `/tasks/batch` is a path of its own, which only POST serves.
    if (c.req.param('id') === 'batch') throw new MethodNotAllowedError('GET', '/tasks/batch', ['POST', 'OPTIONS']);
    const wait = resolveWait(c.req.query('wait'), c.req.header('prefer'), 0);
    const task = await deps.tasks.get(c.get('user'), readTaskId(c), wait.ms);
    if (!isTerminal(task.state)) c.header('Retry-After', retryAfter(task));
    return taskResponse(c, task, 200, wait);
  });

  answerOtherMethods(app);

  app.notFound(answerNotFound);
  app.onError(answerError(logger));

  return app;
}
