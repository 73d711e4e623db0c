import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  DoozerApiError,
  DoozerClientError,
  DoozerConnectionError,
  DoozerRateLimitError,
  DoozerTaskEndedError,
  type RateLimitInfo,
} from './errors.ts';
import { MemoryTokenCache, type TokenCache } from './token-cache.ts';
import {
  type AnyTaskList,
  type ApiErrorBody,
  type BatchItemResult,
  type BatchResponse,
  type TaskArgs,
  type TaskList,
  type TaskName,
  type TaskNameOf,
  type TaskPage,
  type TaskState,
  type TaskType,
  type TaskView,
  type TaskViewOf,
  type TokenResponse,
  type WireInteger,
  isTerminal,
} from './types.ts';
import { verifyWebhook } from './webhooks.ts';

export { verifyWebhook, type WebhookHeaders } from './webhooks.ts';

export interface DoozerClientOptions {
  /** The API's base URL, e.g. http://127.0.0.1:3000. */
  readonly url: string;
  readonly username: string;
  readonly password: string;
  /** Keeps tokens between calls (and, with FileTokenCache, between runs). */
  readonly tokenCache?: TokenCache;
  readonly fetch?: typeof globalThis.fetch;
  /**
   * Waits out a 429 and sends the request once more, when its `Retry-After` is at most
   * `maxWaitSeconds`. Off by default: a 429 throws DoozerRateLimitError at once.
   */
  readonly retryOn429?: RetryOn429Options;
}

export interface RetryOn429Options {
  /** The longest `Retry-After` waited for, in seconds (default 5); a 429 asking for longer is thrown at once. */
  readonly maxWaitSeconds?: number;
  /** Hears each retry before its wait, e.g. to say so. */
  readonly onRetry?: (retry: RateLimitRetry) => void;
}

/** A request refused with a 429 that is sent again after `waitSeconds`. */
export interface RateLimitRetry {
  readonly method: string;
  /** The path and query, e.g. `/tasks?wait=5`. */
  readonly path: string;
  readonly waitSeconds: number;
  /** The refusal: its message, `rateLimit` headers and whether it was the login's. */
  readonly error: DoozerRateLimitError;
}

/** A completion webhook for the task: where the API POSTs its view, signed, when it ends. */
export interface CallbackOptions {
  /** An absolute http(s) URL the API can reach. */
  readonly callbackUrl?: string | URL;
}

export interface SubmitResult<View extends TaskView = TaskView> {
  readonly task: View;
  /** True when the API answered 202: the task outlived the wait; look it up later. */
  readonly deferred: boolean;
}

/** What `run` gives: the task, finished or deferred. */
export type RunResult<View extends TaskView = TaskView> = SubmitResult<View>;

export interface WaitOptions {
  /** Seconds the API may hold the request open for a result (0 to 5). */
  readonly wait?: number;
}

/**
 * When to run a task, if not now: at `runAt` (a Date, or an ISO 8601 time with `Z` or an offset) or
 * `delaySeconds` from now (an integer), up to 7 days ahead; not both. The API answers at once
 * (`deferred`, state PENDING or SCHEDULED, `runAt` set) and never waits for such a task; a time in
 * the past or too far ahead is a DoozerApiError 400 naming the limit.
 */
export type RunLaterOptions =
  | { readonly runAt?: Date | string; readonly delaySeconds?: undefined }
  | { readonly delaySeconds?: number; readonly runAt?: undefined };

/** Options of `run` and `submit`. */
export type RunOptions = WaitOptions & RunLaterOptions & CallbackOptions;

/** What `list` shows: the caller's tasks, newest first, filtered by state and task name. */
export interface ListFilter<N extends string = string> {
  readonly state?: TaskState;
  readonly name?: N;
  /** Tasks per request, 1 to 100 (the API's default is 20). */
  readonly pageSize?: number;
}

/** One page of `listPage`: the filter, its size, and where it starts. */
export interface ListPageOptions<N extends string = string> {
  readonly state?: TaskState;
  readonly name?: N;
  /** Tasks in the page, 1 to 100 (the API's default is 20). */
  readonly limit?: number;
  /** The `next` of the page before; without it, the newest tasks. */
  readonly cursor?: string;
}

/** One task request of a batch: the body of `POST /tasks`, without a wait. */
export type BatchItemOf<T extends TaskList = AnyTaskList> = {
  [K in TaskNameOf<T>]: { readonly name: K; readonly args: TaskArgs<T, K> } & RunLaterOptions & CallbackOptions;
}[TaskNameOf<T>];

export interface BatchOptions {
  /**
   * Makes the batch safe to send again: the same key and items from the same user within 24 h stand
   * for one batch, whose tasks are created once (`replayed` on the repeats). 1 to 255 printable ASCII
   * characters; the same key with other items is a DoozerApiError 422 `idempotency_key_reused`.
   */
  readonly idempotencyKey?: string;
}

/** What `submitBatch` gives: one result per item, in order. */
export interface BatchSubmitResult<View extends TaskView = TaskView> {
  readonly results: BatchItemResult<View>[];
  /** True when the API answered with the tasks of an earlier request with the same Idempotency-Key. */
  readonly replayed: boolean;
}

export interface WaitForOptions<View extends TaskView = TaskView> {
  /** Give up after this many milliseconds and return the task as last seen. */
  readonly timeoutMs: number;
  /** Called with every non-final view, e.g. to show its `progress`. */
  readonly onProgress?: (task: View) => void;
  /**
   * The longest the API may hold each look-up, in seconds (0 to 5; default 5). The API answers a
   * look-up early only when the task ends, so a shorter one reports progress more often.
   */
  readonly pollSeconds?: number;
}

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
  readonly #fetch: typeof globalThis.fetch;
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
    let response: Response;
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
    const error = (body as ApiErrorBody | undefined)?.error;
    if (response.status === 429) {
      throw new DoozerRateLimitError(error?.code ?? 'too_many_requests', error?.message ?? `${url} answered 429 ${response.statusText}`, {
        retryAfterSeconds: retryAfterSeconds(response.headers.get('retry-after')),
        rateLimit: rateLimitOf(response.headers),
        login: path === TOKEN_PATH,
        retried,
      });
    }
    if (response.status === 409 && error?.code === 'task_ended' && typeof error.state === 'string') {
      throw new DoozerTaskEndedError(error.message, error.state);
    }
    throw new DoozerApiError(
      response.status,
      error?.code ?? `http_${response.status}`,
      error?.message ?? `${url} answered ${response.status} ${response.statusText}`,
    );
  }
}

interface SendOptions {
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
  readonly waitSeconds?: number;
  /** Sees the response before its body is read: its status and headers. */
  readonly onResponse?: (response: Response) => void;
}

/** A body that is JSON text already, sent as it is. */
/**
 * JSON text, sent as it is: a batch's items as a file gave them, or `doozer run`'s args as typed, so
 * the API judges exactly what the user wrote (a key given twice, a number JSON cannot hold).
 */
export class RawJson {
  constructor(readonly text: string) {}
}

function encodeBody(body: unknown): string {
  if (body instanceof RawJson) return body.text;
  return JSON.stringify(body, (_key, value: unknown) => (typeof value === 'bigint' ? toWire(value) : value));
}

function toWire(value: bigint): WireInteger {
  const asNumber = Number(value);
  return Number.isSafeInteger(asNumber) ? asNumber : value.toString();
}

/**
 * Whether a request that was refused may be sent again without doing twice what it asked: a read
 * always; a POST when it carries an Idempotency-Key (the API answers a repeat with the first
 * request's outcome), or when the refusal came before anything was recorded, as every 429 does.
 */
function safeToRepeat(method: string, headers: SendOptions['headers'], refusal: DoozerApiError): boolean {
  if (method === 'GET' || method === 'HEAD') return true;
  if (headers?.['idempotency-key'] !== undefined) return true;
  return refusal.status === 429;
}

/** Retry-After as seconds to wait: delay-seconds, or an HTTP date (RFC 9110 §10.2.3); undefined when absent or not either. */
export function retryAfterSeconds(value: string | null, now = Date.now()): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text);
  const at = Date.parse(text);
  return Number.isNaN(at) || !/[a-z]/i.test(text) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}

/** The RateLimit-Limit, -Remaining and -Reset headers (IETF draft, delta seconds), those given; undefined for none. */
function rateLimitOf(headers: Headers): RateLimitInfo | undefined {
  const read = (name: string) => {
    const value = headers.get(name)?.trim();
    return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined;
  };
  const info = { limit: read('ratelimit-limit'), remaining: read('ratelimit-remaining'), resetSeconds: read('ratelimit-reset') };
  const given = Object.fromEntries(Object.entries(info).filter(([, value]) => value !== undefined)) as RateLimitInfo;
  return Object.keys(given).length > 0 ? given : undefined;
}

function describeConnectionError(url: string, error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  if ((error as Error).name === 'TimeoutError') return `${url} did not answer in time`;
  if (cause?.code === 'ECONNREFUSED') return `nothing answers at ${url} (connection refused)`;
  if (cause?.code === 'ENOTFOUND' || cause?.code === 'EAI_AGAIN') return `cannot resolve the host of ${url}`;
  return `cannot reach ${url}: ${cause?.code ?? cause?.message ?? (error as Error).message}`;
}
