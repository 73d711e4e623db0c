/**
 * How DoozerClient's requests and answers look on the wire: bodies as JSON text (bigints exact),
 * the errors an answer stands for, Retry-After and RateLimit headers, and what a request that got
 * no answer is called. No I/O here: the client sends, these read and write.
 */
import { DoozerApiError, DoozerRateLimitError, DoozerTaskEndedError, type RateLimitInfo } from './errors.ts';
import type { FetchResponse } from './client-options.ts';
import type { ApiErrorBody, WireInteger } from './types.ts';

/**
 * JSON text, sent as it is: a batch's items as a file gave them, or `doozer run`'s args as typed, so
 * the API judges exactly what the user wrote (a key given twice, a number JSON cannot hold).
 */
export class RawJson {
  constructor(readonly text: string) {}
}

export function encodeBody(body: unknown): string {
  if (body instanceof RawJson) return body.text;
  return JSON.stringify(body, (_key, value: unknown) => (typeof value === 'bigint' ? toWire(value) : value));
}

/** A bigint as the API takes it: a JSON number when that is exact, else a decimal string. */
export function toWire(value: bigint): WireInteger {
  const asNumber = Number(value);
  return Number.isSafeInteger(asNumber) ? asNumber : value.toString();
}

/** Where the answer came from, and whether it was the login's, or the answer to a retry. */
export interface AnswerContext {
  readonly url: string;
  readonly login: boolean;
  readonly retried: boolean;
}

/**
 * The error an answer that is not 2xx stands for, from its `{"error":{"code","message"}}` body (a
 * body without one, from a proxy say, is named by its status): DoozerRateLimitError for a 429,
 * DoozerTaskEndedError for a cancel's 409 `task_ended`, else DoozerApiError.
 */
export function answerError(response: FetchResponse, body: unknown, { url, login, retried }: AnswerContext): DoozerApiError {
  const error = (body as ApiErrorBody | undefined)?.error;
  const message = error?.message ?? `${url} answered ${response.status} ${response.statusText}`;
  if (response.status === 429) {
    return new DoozerRateLimitError(error?.code ?? 'too_many_requests', message, {
      retryAfterSeconds: retryAfterSeconds(response.headers.get('retry-after')),
      rateLimit: rateLimitOf(response.headers),
      login,
      retried,
    });
  }
  if (response.status === 409 && error?.code === 'task_ended' && typeof error.state === 'string') {
    return new DoozerTaskEndedError(error.message, error.state);
  }
  return new DoozerApiError(response.status, error?.code ?? `http_${response.status}`, message);
}

/**
 * Whether a request that was refused may be sent again without doing twice what it asked: a read
 * always; a POST when it carries an Idempotency-Key (the API answers a repeat with the first
 * request's outcome), or when the refusal came before anything was recorded, as every 429 does.
 */
export function safeToRepeat(method: string, headers: Readonly<Record<string, string>> | undefined, refusal: DoozerApiError): boolean {
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
function rateLimitOf(headers: FetchResponse['headers']): RateLimitInfo | undefined {
  const read = (name: string) => {
    const value = headers.get(name)?.trim();
    return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined;
  };
  const info = { limit: read('ratelimit-limit'), remaining: read('ratelimit-remaining'), resetSeconds: read('ratelimit-reset') };
  const given = Object.fromEntries(Object.entries(info).filter(([, value]) => value !== undefined)) as RateLimitInfo;
  return Object.keys(given).length > 0 ? given : undefined;
}

/** Why a request to `url` got no answer, from what fetch threw: a timeout, a refused connection, a host not found. */
export function describeConnectionError(url: string, error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  if ((error as Error).name === 'TimeoutError') return `${url} did not answer in time`;
  if (cause?.code === 'ECONNREFUSED') return `nothing answers at ${url} (connection refused)`;
  if (cause?.code === 'ENOTFOUND' || cause?.code === 'EAI_AGAIN') return `cannot resolve the host of ${url}`;
  return `cannot reach ${url}: ${cause?.code ?? cause?.message ?? (error as Error).message}`;
}
