/**
 * Per-user limits of the API: a request rate with a burst, and a ceiling on open tasks. This file
 * is the arithmetic only (no I/O); the stores (lib/ports.ts) keep the state.
 *
 * The rate is a GCRA (generic cell rate algorithm): a token bucket stored as one number, the
 * theoretical arrival time `tat` (epoch ms). With the emission interval T = 1000 / requestsPerSecond
 * ms, a request at `now` is admitted iff `max(tat, now) + T - now <= burst * T`, and then
 * `tat' = max(tat, now) + T`. So `burst` requests pass at once on a full bucket, then one every T;
 * the bucket is full again at `tat`.
 *
 * Every time is kept to the microsecond (T = 1000 / 3 ms becomes 333.333 ms). A stored `tat` is then
 * a decimal with at most three places, which DynamoDB adds exactly (`tat + :interval`) and a JS
 * double holds exactly enough to round-trip: the store's conditions and this file's checks agree to
 * the last microsecond, so a burst admits exactly `burst`, never one fewer by a rounding error. The
 * sums below are done on whole microseconds, exact below 2^53 µs (the year 2255).
 */

export interface UserLimits {
  /** Sustained rate; may be fractional (0.5 = one request every 2 s). Greater than 0. */
  readonly requestsPerSecond: number;
  /** Requests that may be made at once on a full bucket. An integer, at least 1. */
  readonly burst: number;
  /** Tasks a user may have open (not yet ended) at once. An integer, at least 1. */
  readonly openTasks: number;
}

/**
 * The most open tasks a user may be allowed: their slots live in one DynamoDB item (about 50 bytes
 * a slot; an item holds 400 KB), and every reserve and release writes the whole item.
 */
export const MAX_OPEN_TASK_LIMIT = 5_000;

export const DEFAULT_USER_LIMITS: UserLimits = { requestsPerSecond: 20, burst: 40, openTasks: 100 };

/** One request's answer from the rate limit: what the `RateLimit-*` headers say. */
export interface RateDecision {
  readonly admitted: boolean;
  /** The burst: requests a full bucket admits at once. */
  readonly limit: number;
  /** Requests that could still be made now, at once. */
  readonly remaining: number;
  /** Seconds until the bucket is full again (0 when it is). */
  readonly resetSeconds: number;
  /**
   * Seconds a full bucket takes to refill from empty, `ceil(burst * T / 1000)`: the policy's
   * window (`RateLimit-Policy: <burst>;w=<windowSeconds>`). Not in the brief's shape: the headers
   * need it and a decision must carry it, since `rateLimitHeaders` takes only the decision.
   */
  readonly windowSeconds: number;
  /** Refused only: seconds until one request would be admitted, at least 1. */
  readonly retryAfterSeconds?: number;
}

/** The longest refill (burst / rate) accepted: a year; it keeps every sum exact in microseconds. */
const MAX_WINDOW_SECONDS = 365 * 24 * 3600;
const MICROS_PER_MS = 1000;
const MICROS_PER_SECOND = 1_000_000;

/** What is wrong with `limits`, one sentence each; empty when they are usable. Config checks call it. */
export function userLimitProblems(limits: UserLimits): string[] {
  const problems: string[] = [];
  const { requestsPerSecond, burst, openTasks } = limits;
  if (!(Number.isFinite(requestsPerSecond) && requestsPerSecond > 0 && requestsPerSecond <= 1_000_000)) {
    problems.push('requestsPerSecond must be a number above 0 and at most 1000000');
  }
  if (!(Number.isSafeInteger(burst) && burst >= 1)) problems.push('burst must be an integer of at least 1');
  if (!(Number.isSafeInteger(openTasks) && openTasks >= 1)) problems.push('openTasks must be an integer of at least 1');
  if (problems.length === 0 && burst / requestsPerSecond > MAX_WINDOW_SECONDS) {
    problems.push(`burst / requestsPerSecond (the refill time) must be at most ${MAX_WINDOW_SECONDS} seconds`);
  }
  return problems;
}

function checked(limits: UserLimits): UserLimits {
  const problems = userLimitProblems(limits);
  if (problems.length > 0) throw new RangeError(`invalid user limits: ${problems.join('; ')}`);
  return limits;
}

/** Milliseconds (possibly fractional) to whole microseconds. */
function micros(ms: number): number {
  return Math.round(ms * MICROS_PER_MS);
}

/** Whole microseconds back to milliseconds: the double nearest the three-place decimal. */
function millis(us: number): number {
  return us / MICROS_PER_MS;
}

/** T in whole microseconds, at least 1. */
function intervalMicros(limits: UserLimits): number {
  return Math.max(1, Math.round(MICROS_PER_SECOND / checked(limits).requestsPerSecond));
}

/** The emission interval T in ms, kept to the microsecond: `1000 / requestsPerSecond`. */
export function emissionIntervalMs(limits: UserLimits): number {
  return millis(intervalMicros(limits));
}

/** A time in ms rounded to the microsecond, as every stored `tat` is. */
export function toMicrosecondMs(ms: number): number {
  return millis(micros(ms));
}

/**
 * The two conditional writes that admit a request at `now`, with the values they need. Exactly one
 * of them can succeed on a given `tat`; together they are the GCRA's admission test:
 * - `idle` (the bucket is full, or new): `SET tat = :tat` if `attribute_not_exists(tat) OR tat <= :now`;
 * - `busy` (a token left): `SET tat = tat + :interval` if `tat > :now AND tat <= :bound`, where
 *   `bound = now + (burst - 1) * T`, so `tat + T - now <= burst * T`.
 * Neither succeeding means the bucket is empty (or it changed in between: read it and see).
 */
export interface GcraWrites {
  readonly idle: { readonly now: number; readonly tat: number };
  readonly busy: { readonly now: number; readonly interval: number; readonly bound: number };
  /**
   * Epoch seconds at or after which the bucket is full again, whichever write applies (the new
   * `tat` is at most `now + burst * T`): the item's TTL, so an idle user's item is removed.
   */
  readonly expiresAt: number;
}

export function gcraWrites(nowMs: number, limits: UserLimits): GcraWrites {
  const t = intervalMicros(limits);
  const now = micros(nowMs);
  return {
    idle: { now: millis(now), tat: millis(now + t) },
    busy: { now: millis(now), interval: millis(t), bound: millis(now + (limits.burst - 1) * t) },
    expiresAt: Math.ceil((now + limits.burst * t) / MICROS_PER_SECOND),
  };
}

/** Seconds the whole burst takes to come back: the policy window. */
function windowSecondsOf(limits: UserLimits, t: number): number {
  return Math.ceil((limits.burst * t) / MICROS_PER_SECOND);
}

/**
 * What the bucket holds at `nowMs` when its `tat` is `tatAfter` (after an admitted request):
 * `remaining = floor((burst*T - (tat - now)) / T)` (at least 0) and `resetSeconds`, the seconds until
 * it is full again (at least 0).
 */
export function rateLimitState(
  tatAfter: number,
  nowMs: number,
  limits: UserLimits,
): { readonly limit: number; readonly remaining: number; readonly resetSeconds: number } {
  const t = intervalMicros(limits);
  const ahead = Math.max(0, micros(tatAfter) - micros(nowMs));
  return {
    limit: limits.burst,
    remaining: Math.max(0, Math.floor((limits.burst * t - ahead) / t)),
    resetSeconds: Math.ceil(ahead / MICROS_PER_SECOND),
  };
}

/** Seconds until a refused request would be admitted: `ceil((tat + T - burst*T - now) / 1000)`, at least 1. */
export function retryAfterSeconds(tat: number, nowMs: number, limits: UserLimits): number {
  const t = intervalMicros(limits);
  return Math.max(1, Math.ceil((micros(tat) + t - limits.burst * t - micros(nowMs)) / MICROS_PER_SECOND));
}

/** The decision for a request admitted at `nowMs` that moved the bucket's `tat` to `tatAfter`. */
export function admittedDecision(tatAfter: number, nowMs: number, limits: UserLimits): RateDecision {
  return { admitted: true, ...rateLimitState(tatAfter, nowMs, limits), windowSeconds: windowSecondsOf(limits, intervalMicros(limits)) };
}

/** The decision for a request refused at `nowMs` by a bucket whose `tat` is `tat`. */
export function refusedDecision(tat: number, nowMs: number, limits: UserLimits): RateDecision {
  return {
    admitted: false,
    ...rateLimitState(tat, nowMs, limits),
    windowSeconds: windowSecondsOf(limits, intervalMicros(limits)),
    retryAfterSeconds: retryAfterSeconds(tat, nowMs, limits),
  };
}

/**
 * The GCRA itself, on a known `tat` (undefined for a new bucket): the decision and the bucket's
 * `tat` afterwards (unchanged when refused). The reference the stores' conditional writes implement,
 * and the in-memory store's whole logic.
 */
export function takeToken(
  tat: number | undefined,
  nowMs: number,
  limits: UserLimits,
): { readonly decision: RateDecision; readonly tat: number | undefined } {
  const t = intervalMicros(limits);
  const now = micros(nowMs);
  const start = Math.max(tat === undefined ? now : micros(tat), now);
  if (start + t - now > limits.burst * t) return { decision: refusedDecision(tat!, nowMs, limits), tat };
  const tatAfter = millis(start + t);
  return { decision: admittedDecision(tatAfter, nowMs, limits), tat: tatAfter };
}

/**
 * The response headers of a decision, by draft-ietf-httpapi-ratelimit-headers (its draft-07 field
 * names, which clients and gateways read today): `RateLimit-Limit`, `RateLimit-Remaining`,
 * `RateLimit-Reset` (seconds), `RateLimit-Policy: <burst>;w=<seconds to refill the burst>`, and
 * `Retry-After` (seconds, RFC 9110) when refused.
 */
export function rateLimitHeaders(decision: RateDecision): Record<string, string> {
  return {
    'RateLimit-Limit': String(decision.limit),
    'RateLimit-Remaining': String(decision.remaining),
    'RateLimit-Reset': String(decision.resetSeconds),
    'RateLimit-Policy': `${decision.limit};w=${decision.windowSeconds}`,
    ...(!decision.admitted && { 'Retry-After': String(decision.retryAfterSeconds ?? 1) }),
  };
}
