import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { DoozerApiError, DoozerClientError, DoozerConnectionError } from './errors.ts';
import { MemoryTokenCache, type TokenCache } from './token-cache.ts';
import {
  type AnyTaskList,
  type ApiErrorBody,
  type TaskArgs,
  type TaskList,
  type TaskName,
  type TaskNameOf,
  type TaskType,
  type TaskView,
  type TaskViewOf,
  type TokenResponse,
  type WireInteger,
  isTerminal,
} from './types.ts';

export interface DoozerClientOptions {
  /** The API's base URL, e.g. http://127.0.0.1:3000. */
  readonly url: string;
  readonly username: string;
  readonly password: string;
  /** Keeps tokens between calls (and, with FileTokenCache, between runs). */
  readonly tokenCache?: TokenCache;
  readonly fetch?: typeof globalThis.fetch;
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

/** Options of `run`. */
export type RunOptions = WaitOptions;

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
    const issued = await this.#send<TokenResponse>('POST', '/auth/token', {
      body: { username: this.#username, password: this.#password },
    });
    await this.#cache.set(key, { token: issued.token, expiresAt: Date.now() + issued.expiresIn * 1000 });
    return issued;
  }

  /**
   * Runs task `name` with `args` (its wire form: what `GET /task-types` describes); resolves when it
   * ends within the wait, or when the API defers it (202). Args the task refuses throw a
   * DoozerApiError 400 that names the field and the rule.
   */
  run<N extends TaskNameOf<T>>(name: N, args: TaskArgs<T, N>, options: RunOptions = {}): Promise<RunResult<TaskViewOf<T, N>>> {
    return this.#post<TaskViewOf<T, N>>(name, args, options);
  }

  /**
   * Submits an `add` or `mul` task, its integers as numbers, decimal strings or bigints (sent
   * exactly); the same as `run` for those two.
   */
  submit(name: TaskName, args: readonly (WireInteger | bigint)[], options: WaitOptions = {}): Promise<SubmitResult<TaskView<WireInteger[], WireInteger, TaskName>>> {
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

  async #post<View extends TaskView>(name: string, args: unknown, options: WaitOptions): Promise<SubmitResult<View>> {
    const query = options.wait === undefined ? '' : `?wait=${options.wait}`;
    let status = 0;
    const task = await this.#authorized<View>('POST', `/tasks${query}`, {
      body: { name, args },
      waitSeconds: options.wait ?? MAX_SERVER_WAIT_SECONDS,
      onStatus: (code) => (status = code),
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

  async #send<T>(method: string, path: string, options: SendOptions & { token?: string }): Promise<T> {
    const url = `${this.#url}${path}`;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await this.#fetch(url, {
        method,
        headers,
        ...(options.body !== undefined && { body: JSON.stringify(options.body, (_key, value: unknown) => (typeof value === 'bigint' ? toWire(value) : value)) }),
        signal: AbortSignal.timeout((options.waitSeconds ?? 0) * 1000 + REQUEST_MARGIN_MS),
      });
    } catch (error) {
      throw new DoozerConnectionError(this.#url, describeConnectionError(this.#url, error), { cause: error });
    }
    options.onStatus?.(response.status);
    const text = await response.text();
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
    throw new DoozerApiError(
      response.status,
      error?.code ?? `http_${response.status}`,
      error?.message ?? `${url} answered ${response.status} ${response.statusText}`,
    );
  }
}

interface SendOptions {
  readonly body?: unknown;
  readonly waitSeconds?: number;
  readonly onStatus?: (status: number) => void;
}

function toWire(value: bigint): WireInteger {
  const asNumber = Number(value);
  return Number.isSafeInteger(asNumber) ? asNumber : value.toString();
}

function describeConnectionError(url: string, error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  if ((error as Error).name === 'TimeoutError') return `${url} did not answer in time`;
  if (cause?.code === 'ECONNREFUSED') return `nothing answers at ${url} (connection refused)`;
  if (cause?.code === 'ENOTFOUND' || cause?.code === 'EAI_AGAIN') return `cannot resolve the host of ${url}`;
  return `cannot reach ${url}: ${cause?.code ?? cause?.message ?? (error as Error).message}`;
}
