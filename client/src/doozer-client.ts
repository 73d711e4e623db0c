/**
 * DoozerClient: the typed client of the doozer API that the CLI is a shell over. Its options and
 * answers are in client-options.ts; how requests and answers look on the wire, in wire.ts.
 */
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type {
  BatchItemOf,
  BatchOptions,
  BatchSubmitResult,
  DoozerClientOptions,
  FetchLike,
  FetchResponse,
  ListFilter,
  ListPageOptions,
  RetryOn429Options,
  RunOptions,
  RunResult,
  SubmitResult,
  WaitForOptions,
  WaitOptions,
} from './client-options.ts';
import { DoozerApiError, DoozerClientError, DoozerConnectionError, DoozerRateLimitError } from './errors.ts';
import { MemoryTokenCache, type TokenCache } from './token-cache.ts';
import type {
  AnyTaskList,
  BatchResponse,
  TaskArgs,
  TaskList,
  TaskName,
  TaskNameOf,
  TaskPage,
  TaskType,
  TaskView,
  TaskViewOf,
  TokenResponse,
  WireInteger,
} from './types.ts';
import { isTerminal } from './types.ts';
import { verifyWebhook } from './webhooks.ts';
import { RawJson, answerError, describeConnectionError, encodeBody, safeToRepeat, toWire } from './wire.ts';

/** Tokens are renewed this long before they expire, so one never lapses mid-request. */
const EXPIRY_MARGIN_MS = 60_000;
/** The longest the API waits in one request. */
const MAX_SERVER_WAIT_SECONDS = 5;
/** How long a request may take beyond the wait it asked for. */
const REQUEST_MARGIN_MS = 10_000;
const TOKEN_PATH = '/auth/token';
/** The longest Retry-After that `retryOn429` waits for unless told otherwise. */
const DEFAULT_MAX_RETRY_WAIT_SECONDS = 5;

/**
 * A typed client of the doozer API: gets and caches the bearer token (renewing it on a 401),
 * runs tasks, looks them up and waits for them.
 *
 * Give it the server's task list as a type to have names, args and results checked:
 * `new DoozerClient<typeof TASKS>({...})` (TASKS of tasks/index.ts), then
 * `client.run('sleep', { ms: 3000 })` accepts only what sleep's args schema takes, and the view's
 * `result` has the type of its result schema. Only the type is used: nothing of the list is loaded.
 * Without it, any name and any args go, and views are plain TaskView.
 */
export class DoozerClient<T extends TaskList = AnyTaskList> {
  readonly #url: string;
  readonly #username: string;
  readonly #password: string;
  readonly #cache: TokenCache;
  readonly #cacheKey: string;
  readonly #fetch: FetchLike;
  readonly #retryOn429: RetryOn429Options | undefined;

  /** verifyWebhook, for those who have the class at hand: checks a completion webhook and returns its task. */
  static readonly verifyWebhook = verifyWebhook;

  constructor(options: DoozerClientOptions) {
    this.#url = options.url.replace(/\/+$/, '');
    this.#username = options.username;
    this.#password = options.password;
    this.#cache = options.tokenCache ?? new MemoryTokenCache();
    // Keyed by a digest of URL, user and password: a token cached for other credentials (say, a
    // password since changed or mistyped) is never used in their place.
    this.#cacheKey = createHash('sha256')
      .update(JSON.stringify([this.#url, this.#username, this.#password]))
      .digest('base64url');
    this.#fetch = options.fetch ?? globalThis.fetch;
    this.#retryOn429 = options.retryOn429;
  }

  /** A valid token for the configured user: the cached one unless it is about to expire. */
  async token(options: { fresh?: boolean } = {}): Promise<TokenResponse> {
    const key = this.#cacheKey;
    if (!options.fresh) {
      const cached = await this.#cache.get(key);
      if (cached && cached.expiresAt - EXPIRY_MARGIN_MS > Date.now()) {
        return { token: cached.token, tokenType: 'Bearer', expiresIn: Math.floor((cached.expiresAt - Date.now()) / 1000) };
      }
    }
    const issued = await this.#send<TokenResponse>('POST', TOKEN_PATH, {
      body: { username: this.#username, password: this.#password },
    });
    await this.#cache.set(key, { token: issued.token, expiresAt: Date.now() + issued.expiresIn * 1000 });
    return issued;
  }

  /**
   * Runs task `name` with `args` (its wire form: what `GET /task-types` describes); resolves when it
   * ends within the wait, or when the API defers it (202). With `runAt` or `delaySeconds` it is set to
   * run later and resolves at once, deferred. Args the task refuses throw a DoozerApiError 400 that
   * names the field and the rule.
   */
  run<N extends TaskNameOf<T>>(name: N, args: TaskArgs<T, N>, options: RunOptions = {}): Promise<RunResult<TaskViewOf<T, N>>> {
    return this.#post<TaskViewOf<T, N>>(name, args, options);
  }

  /**
   * Submits an `add` or `mul` task, its integers as numbers, decimal strings or bigints (sent
   * exactly); the same as `run` for those two.
   */
  submit(name: TaskName, args: readonly (WireInteger | bigint)[], options: RunOptions = {}): Promise<SubmitResult<TaskView<WireInteger[], WireInteger, TaskName>>> {
    return this.#post(name, args.map((arg) => (typeof arg === 'bigint' ? toWire(arg) : arg)), options);
  }

  /** The task types the service runs, with the JSON Schemas of their args and results. Needs no login. */
  async taskTypes(): Promise<TaskType[]> {
    const body = await this.#send<{ taskTypes?: TaskType[] }>('GET', '/task-types', {});
    if (!Array.isArray(body.taskTypes)) throw new DoozerClientError('invalid_response', `${this.#url}/task-types answered without taskTypes`);
    return body.taskTypes;
  }

  /**
   * Looks a task up, letting the API wait up to `wait` seconds for it to end. With a task list, the
   * view is the union of its tasks' views: checking `task.name` narrows `args` and `result`.
   */
  get(id: string, options: WaitOptions = {}): Promise<TaskViewOf<T>> {
    const query = options.wait === undefined ? '' : `?wait=${options.wait}`;
    return this.#authorized<TaskViewOf<T>>('GET', `/tasks/${encodeURIComponent(id)}${query}`, {
      waitSeconds: options.wait ?? 0,
    });
  }

  /**
   * Long-polls a task until it ends or `timeoutMs` passes; returns the task as last seen (check
   * its state: it may still be running).
   */
  async waitFor(id: string, { timeoutMs, onProgress, pollSeconds = MAX_SERVER_WAIT_SECONDS }: WaitForOptions<TaskViewOf<T>>): Promise<TaskViewOf<T>> {
    const deadline = Date.now() + timeoutMs;
    const longest = Math.max(0, Math.min(MAX_SERVER_WAIT_SECONDS, Math.floor(pollSeconds)));
    for (;;) {
      const left = deadline - Date.now();
      const wait = Math.max(0, Math.min(longest, Math.floor(left / 1000)));
      const task = await this.get(id, { wait });
      if (isTerminal(task) || Date.now() >= deadline) return task;
      onProgress?.(task);
      if (wait === 0) await sleep(Math.min(250, Math.max(0, deadline - Date.now())));
    }
  }

  /**
   * One page of the caller's tasks, newest first: at most `limit`, and `next` to give as `cursor`
   * for the following page (null on the last). A cursor that was altered or given to another user
   * is a DoozerApiError 400.
   */
  async listPage<N extends TaskNameOf<T> = TaskNameOf<T>>(options: ListPageOptions<N> = {}): Promise<TaskPage<TaskViewOf<T, N>>> {
    const query = new URLSearchParams();
    if (options.state !== undefined) query.set('state', options.state);
    if (options.name !== undefined) query.set('name', options.name);
    if (options.limit !== undefined) query.set('limit', String(options.limit));
    if (options.cursor !== undefined) query.set('cursor', options.cursor);
    const path = query.size > 0 ? `/tasks?${query}` : '/tasks';
    const page = await this.#authorized<Partial<TaskPage<TaskViewOf<T, N>>>>('GET', path, {});
    if (!Array.isArray(page.tasks)) throw new DoozerClientError('invalid_response', `${this.#url}/tasks answered without tasks`);
    return { tasks: page.tasks, next: page.next ?? null };
  }

  /**
   * Every task of the caller that matches the filter, newest first, fetched a page at a time as the
   * loop asks for them (`for await (const task of client.list({ state: 'FAILURE' }))`). Tasks
   * created while it runs may or may not appear; none appears twice.
   */
  async *list<N extends TaskNameOf<T> = TaskNameOf<T>>(filter: ListFilter<N> = {}): AsyncIterable<TaskViewOf<T, N>> {
    let cursor: string | undefined;
    do {
      const page = await this.listPage<N>({
        ...(filter.state !== undefined && { state: filter.state }),
        ...(filter.name !== undefined && { name: filter.name }),
        ...(filter.pageSize !== undefined && { limit: filter.pageSize }),
        ...(cursor !== undefined && { cursor }),
      });
      yield* page.tasks;
      cursor = page.next ?? undefined;
    } while (cursor !== undefined);
  }

  /**
   * Cancels a task that has not ended (SCHEDULED, PENDING or RETRY): it never runs, or, running, is
   * stopped and keeps no result. Resolves with the task, CANCELLED (also when it already was).
   * Throws DoozerTaskEndedError (409, with the `state` it ended in) for a task that has ended, and
   * DoozerApiError 404 `task_not_found` for an unknown or another user's task.
   */
  cancel(id: string): Promise<TaskViewOf<T>> {
    return this.#authorized<TaskViewOf<T>>('POST', `/tasks/${encodeURIComponent(id)}/cancel`, {});
  }

  /**
   * Submits up to 100 task requests in one call and never waits for them. Each item is judged on its
   * own: the results say, in the items' order, the task that was created or why the item was not
   * accepted (`unavailable` ones may be submitted again). Items go as given (a `runAt` Date as its
   * ISO time). A batch of more than 100, or over 1 MiB, is refused whole (DoozerApiError 400 / 413),
   * as is one none of whose items could be recorded for an outage (503).
   */
  submitBatch(items: readonly BatchItemOf<T>[], options: BatchOptions = {}): Promise<BatchSubmitResult<TaskViewOf<T>>> {
    return this.#batch({ tasks: items }, items.length, options);
  }

  /**
   * `submitBatch` for items given as JSON texts (`'{"name":"add","args":[1,2]}'`), each sent as it
   * is: the body is `{"tasks":[` the items joined by commas `]}`, so the API judges exactly what each
   * text says (a key given twice, a number beyond the double range), which parsing and encoding again
   * would hide. Each item must be one complete JSON value, else nothing is sent (DoozerClientError
   * `invalid_request`, naming the item from 0). A key given twice in an item, or an item nesting
   * arrays and objects more than 62 deep, makes the API refuse the whole batch (400): check for those
   * first when one item must not hold up the others.
   */
  async submitBatchJson(items: readonly string[], options: BatchOptions = {}): Promise<BatchSubmitResult<TaskViewOf<T>>> {
    items.forEach((item, index) => {
      try {
        if (typeof item !== 'string') throw new TypeError(`not a string but ${typeof item}`);
        JSON.parse(item);
      } catch (error) {
        // V8 repeats the input in some messages ('Unexpected token 'a', "abc" is not valid JSON').
        const reason = (error as Error).message.replace(/, ".*" is not valid JSON$/s, '');
        throw new DoozerClientError('invalid_request', `batch item ${index} is not one JSON value (${reason}); nothing was sent`);
      }
    });
    return this.#batch(new RawJson(`{"tasks":[${items.join(',')}]}`), items.length, options);
  }

  async #batch(payload: unknown, count: number, options: BatchOptions): Promise<BatchSubmitResult<TaskViewOf<T>>> {
    let replayed = false;
    const body = await this.#authorized<Partial<BatchResponse<TaskViewOf<T>>>>('POST', '/tasks/batch', {
      body: payload,
      ...(options.idempotencyKey !== undefined && { headers: { 'idempotency-key': options.idempotencyKey } }),
      onResponse: (response) => (replayed = response.headers.get('idempotent-replayed') === 'true'),
    });
    if (!Array.isArray(body.results) || body.results.length !== count) {
      throw new DoozerClientError('invalid_response', `${this.#url}/tasks/batch answered without one result per task`);
    }
    return { results: body.results, replayed };
  }

  async #post<View extends TaskView>(name: string, args: unknown, options: RunOptions): Promise<SubmitResult<View>> {
    const query = options.wait === undefined ? '' : `?wait=${options.wait}`;
    let status = 0;
    // A runAt Date goes as its ISO time (Date#toJSON), a callbackUrl URL as its href (URL#toJSON).
    const fields = {
      ...(options.runAt !== undefined && { runAt: options.runAt }),
      ...(options.delaySeconds !== undefined && { delaySeconds: options.delaySeconds }),
      ...(options.callbackUrl !== undefined && { callbackUrl: options.callbackUrl }),
    };
    const rest = Object.keys(fields).length > 0 ? `,${JSON.stringify(fields).slice(1, -1)}` : '';
    const task = await this.#authorized<View>('POST', `/tasks${query}`, {
      body: args instanceof RawJson ? new RawJson(`{"name":${JSON.stringify(name)},"args":${args.text}${rest}}`) : { name, args, ...fields },
      waitSeconds: options.wait ?? MAX_SERVER_WAIT_SECONDS,
      onResponse: (response) => (status = response.status),
    });
    return { task, deferred: status === 202 };
  }

  /** Sends with the bearer token; on a 401 with a cached token, renews it once and retries. */
  async #authorized<T>(method: string, path: string, options: SendOptions): Promise<T> {
    const { token } = await this.token();
    try {
      return await this.#send<T>(method, path, { ...options, token });
    } catch (error) {
      if (!(error instanceof DoozerApiError && error.status === 401)) throw error;
      const renewed = await this.token({ fresh: true });
      return this.#send<T>(method, path, { ...options, token: renewed.token });
    }
  }

  /**
   * One request, and with `retryOn429` one more after a 429 whose Retry-After is short enough.
   *
   * Sending it again is safe, a POST /tasks or /tasks/batch included: a 429 is a refusal made before
   * anything is recorded (the rate limit, the open-task limit and the login limits are all checked
   * first, as is a gateway's throttling), so no task was created and no Idempotency-Key was claimed,
   * and the retry is the first request that counts. safeToRepeat says so for each request.
   */
  async #send<T>(method: string, path: string, options: SendOptions & { token?: string }): Promise<T> {
    try {
      return await this.#sendOnce<T>(method, path, options, false);
    } catch (error) {
      const retry = this.#retryOn429;
      if (!(retry && error instanceof DoozerRateLimitError && safeToRepeat(method, options.headers, error))) throw error;
      const waitSeconds = error.retryAfterSeconds;
      if (waitSeconds === undefined || waitSeconds > (retry.maxWaitSeconds ?? DEFAULT_MAX_RETRY_WAIT_SECONDS)) throw error;
      retry.onRetry?.({ method, path, waitSeconds, error });
      await sleep(waitSeconds * 1000);
      return this.#sendOnce<T>(method, path, options, true);
    }
  }

  async #sendOnce<T>(method: string, path: string, options: SendOptions & { token?: string }, retried: boolean): Promise<T> {
    const url = `${this.#url}${path}`;
    const headers: Record<string, string> = { ...options.headers, accept: 'application/json' };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    let response: FetchResponse;
    try {
      response = await this.#fetch(url, {
        method,
        headers,
        ...(options.body !== undefined && { body: encodeBody(options.body) }),
        signal: AbortSignal.timeout((options.waitSeconds ?? 0) * 1000 + REQUEST_MARGIN_MS),
      });
    } catch (error) {
      throw new DoozerConnectionError(this.#url, describeConnectionError(this.#url, error), { cause: error });
    }
    options.onResponse?.(response);
    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      // Cut off while the answer was read (a reset, the timeout): the request may have been done.
      throw new DoozerConnectionError(this.#url, describeConnectionError(this.#url, error), { cause: error });
    }
    let body: unknown;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (response.ok) {
      if (body === undefined) throw new DoozerClientError('invalid_response', `${url} answered ${response.status} without JSON`);
      return body as T;
    }
    throw answerError(response, body, { url, login: path === TOKEN_PATH, retried });
  }
}

interface SendOptions {
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
  readonly waitSeconds?: number;
  /** Sees the response before its body is read: its status and headers. */
  readonly onResponse?: (response: FetchResponse) => void;
}
