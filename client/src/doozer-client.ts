import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { DoozerApiError, DoozerClientError, DoozerConnectionError } from './errors.ts';
import { MemoryTokenCache, type TokenCache } from './token-cache.ts';
import { type ApiErrorBody, type TaskName, type TaskView, type TokenResponse, type WireInteger, isTerminal } from './types.ts';

export interface DoozerClientOptions {
  /** The API's base URL, e.g. http://127.0.0.1:3000. */
  readonly url: string;
  readonly username: string;
  readonly password: string;
  /** Keeps tokens between calls (and, with FileTokenCache, between runs). */
  readonly tokenCache?: TokenCache;
  readonly fetch?: typeof globalThis.fetch;
}

export interface SubmitResult {
  readonly task: TaskView;
  /** True when the API answered 202: the task outlived the wait; look it up later. */
  readonly deferred: boolean;
}

export interface WaitOptions {
  /** Seconds the API may hold the request open for a result (0 to 5). */
  readonly wait?: number;
}

export interface WaitForOptions {
  /** Give up after this many milliseconds and return the task as last seen. */
  readonly timeoutMs: number;
  /** Called with every non-final view, e.g. to show progress. */
  readonly onProgress?: (task: TaskView) => void;
}

/** Tokens are renewed this long before they expire, so one never lapses mid-request. */
const EXPIRY_MARGIN_MS = 60_000;
/** The longest the API waits in one request. */
const MAX_SERVER_WAIT_SECONDS = 5;
/** How long a request may take beyond the wait it asked for. */
const REQUEST_MARGIN_MS = 10_000;

/**
 * A typed client of the doozer API: gets and caches the bearer token (renewing it on a 401),
 * submits tasks, looks them up and waits for them.
 */
export class DoozerClient {
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

  /** Submits a task; resolves when it ends within the wait, or when the API defers it (202). */
  async submit(name: TaskName, args: readonly (WireInteger | bigint)[], options: WaitOptions = {}): Promise<SubmitResult> {
    const wire = args.map((arg) => (typeof arg === 'bigint' ? toWire(arg) : arg));
    const query = options.wait === undefined ? '' : `?wait=${options.wait}`;
    let status = 0;
    const task = await this.#authorized<TaskView>('POST', `/tasks${query}`, {
      body: { name, args: wire },
      waitSeconds: options.wait ?? MAX_SERVER_WAIT_SECONDS,
      onStatus: (code) => (status = code),
    });
    return { task, deferred: status === 202 };
  }

  /** Looks a task up, letting the API wait up to `wait` seconds for it to end. */
  get(id: string, options: WaitOptions = {}): Promise<TaskView> {
    const query = options.wait === undefined ? '' : `?wait=${options.wait}`;
    return this.#authorized<TaskView>('GET', `/tasks/${encodeURIComponent(id)}${query}`, {
      waitSeconds: options.wait ?? 0,
    });
  }

  /**
   * Long-polls a task until it ends or `timeoutMs` passes; returns the task as last seen (check
   * its state: it may still be running).
   */
  async waitFor(id: string, { timeoutMs, onProgress }: WaitForOptions): Promise<TaskView> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const left = deadline - Date.now();
      const wait = Math.max(0, Math.min(MAX_SERVER_WAIT_SECONDS, Math.floor(left / 1000)));
      const task = await this.get(id, { wait });
      if (isTerminal(task) || Date.now() >= deadline) return task;
      onProgress?.(task);
      if (wait === 0) await sleep(Math.min(250, Math.max(0, deadline - Date.now())));
    }
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
        ...(options.body !== undefined && { body: JSON.stringify(options.body) }),
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
