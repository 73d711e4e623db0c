/**
 * The options and answers of DoozerClient's methods, and what it needs of `fetch`: types only.
 */
import type { DoozerRateLimitError } from './errors.ts';
import type { TokenCache } from './token-cache.ts';
import type { AnyTaskList, BatchItemResult, TaskArgs, TaskList, TaskNameOf, TaskState, TaskView } from './types.ts';

/**
 * What DoozerClient asks of `fetch`: `globalThis.fetch` does it, and so does any function that
 * answers these requests the same way (a test's in-process app, or the CLI's node:http one). A
 * request that gets no answer rejects (with the signal's reason once it aborts), as fetch does.
 */
export type FetchLike = (url: string, init: FetchInit) => Promise<FetchResponse>;

/** The requests DoozerClient makes: a method, its headers, a JSON body as text, and a deadline. */
export interface FetchInit {
  readonly method: string;
  readonly headers: Record<string, string>;
  readonly body?: string;
  readonly signal: AbortSignal;
}

/** What DoozerClient reads of an answer. */
export interface FetchResponse {
  readonly ok: boolean;
  readonly status: number;
  readonly statusText: string;
  readonly headers: { get(name: string): string | null };
  text(): Promise<string>;
}

export interface DoozerClientOptions {
  /** The API's base URL, e.g. http://127.0.0.1:3000. */
  readonly url: string;
  readonly username: string;
  readonly password: string;
  /** Keeps tokens between calls (and, with FileTokenCache, between runs). */
  readonly tokenCache?: TokenCache;
  /** How requests are sent: `globalThis.fetch` unless given (the CLI gives one over node:http, see FetchLike). */
  readonly fetch?: FetchLike;
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
