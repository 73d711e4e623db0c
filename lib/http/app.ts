import { type Context, Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { createMiddleware } from 'hono/factory';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { LoginThrottle } from '../auth/login-throttle.ts';
import type { TokenIssuer } from '../auth/tokens.ts';
import type { UserDirectory } from '../auth/users.ts';
import type { UserProfiles } from '../auth/user-profiles.ts';
import type { RequestRateStore } from '../limits/ports.ts';
import { rateLimitHeaders } from '../limits/user-limits.ts';
import { type TargetPolicy, checkCallbackUrl } from '../webhooks/target-policy.ts';
import {
  DoozerError,
  type ErrorCode,
  InvalidRequestError,
  MethodNotAllowedError,
  PayloadTooLargeError,
  TaskEndedError,
  TooManyRequestsError,
  UnauthorizedError,
} from '../errors.ts';
import { batchRequestDigest } from '../tasks/idempotency.ts';
import { type Logger, silentLogger } from '../logger.ts';
import { type Task, isTerminal, toTaskView } from '../tasks/task.ts';
import type { TaskCatalog } from '../tasks/task-catalog.ts';
import { runTask } from '../tasks/task-runner.ts';
import type { BatchItem, BatchResult, TaskService } from '../tasks/task-service.ts';
import { MAX_WAIT_SECONDS } from '../tasks/wait-policy.ts';
import { openApiJson } from './openapi.ts';
import { MAX_BATCH_BODY_BYTES, MAX_BATCH_TASKS, MAX_BODY_BYTES } from './json-limits.ts';
import { BatchBodySchema, CredentialsSchema, bySchema, jsonBody } from './request-body.ts';
import { taskTypesJson } from './task-types.ts';
import { type LoggedVariables, requestLogging } from './request-logging.ts';
import { readIdempotencyKey, readListQuery, readTaskId } from './request-params.ts';
import { type ReadinessProbe, checkReadiness } from './readiness.ts';
import { type WaitPreference, resolveWait } from './wait-preference.ts';

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
  /**
   * Serve `POST /bench/floor`, the benchmark's floor: POST /tasks without the queue and the store.
   * Only the local stage may turn it on (DOOZER_BENCH_FLOOR; `npm run bench` does).
   */
  readonly benchFloor?: boolean;
}

type AppEnv = {
  Variables: LoggedVariables & {
    user: string;
    /** A submission's admission by the caller's request rate, decided beside its open-task slots (requireSubmitter). */
    admission?: Promise<void>;
  };
};

/** The login limits' address for a caller whose address is not known. */
const UNKNOWN_ADDRESS = 'unknown';

/** Seconds a client should wait before looking up a deferred task. */
const RETRY_AFTER_SECONDS = '1';

/**
 * The HTTP API. It knows nothing about Lambda: handlers/api.ts wraps it with `handle(app)`, and
 * tests call `app.request(...)` directly.
 */
export function createApp(deps: AppDependencies): Hono<AppEnv> {
  const logger = deps.logger ?? silentLogger;
  const app = new Hono<AppEnv>();
  app.use(requestLogging(logger));

  const limitBody = bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: () => {
      throw new PayloadTooLargeError(MAX_BODY_BYTES);
    },
  });
  const limitBatchBody = bodyLimit({
    maxSize: MAX_BATCH_BODY_BYTES,
    onError: () => {
      throw new PayloadTooLargeError(MAX_BATCH_BODY_BYTES);
    },
  });

  // Our tokens are about 200 characters; a longer one is refused before any decoding or crypto.
  const maxTokenLength = 4096;
  /** The caller, from the bearer token: 401 without a valid one. */
  const authenticate = async (c: Context<AppEnv>): Promise<string> => {
    const header = c.req.header('authorization');
    const match = header ? /^Bearer +(\S+)$/i.exec(header) : null;
    if (!match?.[1]) {
      throw new UnauthorizedError(header ? 'the Authorization header must be "Bearer <token>"' : 'a bearer token is required; get one from POST /auth/token');
    }
    if (match[1].length > maxTokenLength) {
      throw new UnauthorizedError(`the bearer token is longer than ${maxTokenLength} characters`, { bearerError: 'invalid_token' });
    }
    const user = await deps.tokens.verify(match[1]);
    c.set('user', user);
    return user;
  };

  /**
   * Counts the request against the caller's rate: resolves once admitted, with the RateLimit headers
   * set on every answer to this request, an error's included (c.header is kept by c.json); rejects
   * with a 429 when refused. Nothing when the app has no limits.
   */
  const admit = async (c: Context<AppEnv>, user: string): Promise<void> => {
    if (!deps.rates || !deps.profiles) return;
    const limits = deps.profiles.limitsOf(user);
    const decision = await deps.rates.take(user, Date.now(), limits);
    for (const [name, value] of Object.entries(rateLimitHeaders(decision))) c.header(name, value);
    if (!decision.admitted) {
      throw new TooManyRequestsError(
        `more than ${limits.burst} requests at once or ${limits.requestsPerSecond} a second on average; try again in ${decision.retryAfterSeconds ?? 1} s`,
        decision.retryAfterSeconds ?? 1,
      );
    }
  };

  // Counted once the caller is known, before anything is done for them: a refused request did nothing.
  const requireUser = createMiddleware<AppEnv>(async (c, next) => {
    await admit(c, await authenticate(c));
    await next();
  });

  /**
   * As requireUser, for the routes that submit tasks: the rate's write runs beside the open-task
   * slots' (TaskService awaits both before it writes anything), not before it. The handler awaits
   * the admission again before it answers, for the paths that write nothing (an idempotent replay);
   * an error answer waits for it too (onError).
   */
  const requireSubmitter = createMiddleware<AppEnv>(async (c, next) => {
    const admission = admit(c, await authenticate(c));
    // Decided later; never an unhandled rejection meanwhile.
    admission.catch(() => {});
    c.set('admission', admission);
    await next();
  });

  /**
   * The callbackUrl a submission gets: its own, or its owner's default; checked against the address
   * policy, and only for an owner who has a webhook secret to sign with. A refusal names why.
   */
  const callbackOf = (user: string, requested: string | undefined): { callbackUrl?: string } | { refused: string } => {
    const callbackUrl = requested ?? deps.profiles?.callbackUrlOf(user);
    if (callbackUrl === undefined) return {};
    if (!deps.callbackPolicy || !deps.profiles) return { refused: 'this server sends no webhooks; leave out callbackUrl' };
    const checked = checkCallbackUrl(callbackUrl, deps.callbackPolicy);
    if (!checked.ok) return { refused: requested === undefined ? `your default ${checked.reason}` : checked.reason };
    if (deps.profiles.webhookSecretOf(user) === undefined) {
      return { refused: 'your user has no webhook secret to sign callbacks with; ask the operator to set webhookSecret in your user configuration' };
    }
    return { callbackUrl };
  };

  // The contract of every task, applied here once: the handlers and the service get the prepared task.
  const taskBody = jsonBody((value) => {
    const prepared = deps.catalog.prepareRequest(value);
    if (prepared.ok) return prepared.task;
    const { code, message } = prepared.refused;
    throw code === 'unknown_task' ? new DoozerError('unknown_task', message) : new InvalidRequestError(message);
  });

  // A batch: its own shape here, each item by the same contract as POST /tasks, refused on its own.
  const batchBody = jsonBody((value) => {
    const count = (value as { tasks?: unknown } | null)?.tasks;
    if (Array.isArray(count) && count.length > MAX_BATCH_TASKS) {
      throw new InvalidRequestError(`a batch holds at most ${MAX_BATCH_TASKS} tasks (got ${count.length}); split it`);
    }
    const { tasks } = bySchema(BatchBodySchema)(value);
    const items = tasks.map((item): BatchItem => {
      // Each item within the limit of a single request: a batch carries no bigger task than POST /tasks.
      const bytes = Buffer.byteLength(JSON.stringify(item));
      if (bytes > MAX_BODY_BYTES) {
        return { ok: false, error: { code: 'invalid_request', message: `this task is ${bytes} bytes of JSON; a task is at most ${MAX_BODY_BYTES}` } };
      }
      if (typeof item !== 'object' || item === null || Array.isArray(item)) {
        return { ok: false, error: { code: 'invalid_request', message: 'each task must be a JSON object: {"name": <task>, "args": <its args>}' } };
      }
      const prepared = deps.catalog.prepareRequest(item);
      if (prepared.ok) return { ok: true, task: prepared.task };
      const { code, message } = prepared.refused;
      return { ok: false, error: { code: code === 'unknown_task' ? code : 'invalid_request', message } };
    });
    return { items, digest: batchRequestDigest(value) };
  });

  app.get('/health', (c) => c.json({ status: 'ok' }));
  app.get('/ready', async (c) => {
    await checkReadiness(deps.readiness ?? [], logger);
    return c.json({ status: 'ready' });
  });
  // The API document (OpenAPI 3.1, generated from the schemas below); the web function renders it at /docs.
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
    // With an Idempotency-Key, a repeated request gets the task of the first one (see the README).
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

  if (deps.benchFloor) {
    // The same server, auth and body checks as POST /tasks, with the task run inline: no store, no
    // queue, no wait. The benchmark reads every figure against this one.
    app.post('/bench/floor', requireUser, limitBody, taskBody, async (c) => {
      const task = c.get('body');
      const outcome = await runTask(task, { taskId: 'bench-floor', attempt: 1, saveProgress: async () => true });
      if (outcome.state !== 'SUCCESS') throw new InvalidRequestError(`the task did not succeed: ${outcome.state}`);
      return c.json({ ...task.input, state: 'SUCCESS', result: outcome.result });
    });
  }

  answerOtherMethods(app);

  app.notFound((c) => errorResponse(c, new DoozerError('not_found', `no route for ${c.req.method} ${c.req.path}`)));

  app.onError(async (thrown, c) => {
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
  });

  return app;
}

/**
 * A known path asked with another method: 405 with `Allow` (RFC 9110), rather than the 404 of an
 * unknown path; OPTIONS answers 204 with `Allow`. Registered after every route, from the routes
 * themselves, so it cannot drift from them. Hono answers HEAD with the GET route.
 */
function answerOtherMethods(app: Hono<AppEnv>): void {
  const allowed = new Map<string, Set<string>>();
  for (const { method, path } of app.routes) {
    if (method === 'ALL') continue; // middleware
    const methods = allowed.get(path) ?? new Set<string>();
    methods.add(method);
    if (method === 'GET') methods.add('HEAD');
    allowed.set(path, methods);
  }
  for (const [path, methods] of allowed) {
    const allow = [...methods, 'OPTIONS'];
    app.all(path, (c) => {
      if (c.req.method === 'OPTIONS') return c.body(null, 204, { Allow: allow.join(', ') });
      throw new MethodNotAllowedError(c.req.method, c.req.path, allow);
    });
  }
}

/** When to look an open task up again: in a second, or when it is to run, for a task to run later. */
function retryAfter(task: Task): string {
  const untilRun = task.runAt === undefined ? 0 : Math.ceil((Date.parse(task.runAt) - Date.now()) / 1000);
  return untilRun > 1 ? String(untilRun) : RETRY_AFTER_SECONDS;
}

function batchResultView(result: BatchResult) {
  return 'task' in result ? { task: toTaskView(result.task) } : { error: result.error };
}

function taskResponse<E extends AppEnv>(c: Context<E>, task: Task, status: 200 | 202, wait: WaitPreference): Response {
  if (wait.applied) c.header('Preference-Applied', wait.applied);
  c.set('taskId', task.id);
  return c.json(toTaskView(task), status);
}

const GENERIC_MESSAGES: Partial<Record<ErrorCode, string>> = {
  unavailable: 'the service is temporarily unavailable; try again shortly',
  internal: 'internal error',
};

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

function codeForStatus(status: number): ErrorCode {
  if (status === 401) return 'unauthorized';
  if (status === 404) return 'not_found';
  if (status === 413) return 'payload_too_large';
  return 'invalid_request';
}
