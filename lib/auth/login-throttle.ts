import { createHash } from 'node:crypto';
import { TooManyRequestsError } from '../errors.ts';
import { type Clock, systemClock } from '../tasks/wait-policy.ts';

/**
 * Failed logins per user, counted in fixed windows. One implementation keeps them in DynamoDB
 * (lib/aws/dynamodb-login-attempts.ts), so every API instance sees the same count.
 */
export interface LoginAttemptStore {
  /** Failures recorded for `key` in the window ending at `windowEndsAt` (epoch seconds). */
  failures(key: string, windowEndsAt: number): Promise<number>;
  /** Adds one failure atomically and returns the new count. */
  addFailure(key: string, windowEndsAt: number): Promise<number>;
  /** Forgets the failures of the window. */
  clear(key: string, windowEndsAt: number): Promise<void>;
}

export interface LoginThrottleOptions {
  readonly store: LoginAttemptStore;
  /** Failures allowed in one window; further attempts get 429 until it ends. */
  readonly maxFailures?: number;
  readonly windowSeconds?: number;
  readonly clock?: Clock;
}

/**
 * Slows down password guessing: after `maxFailures` wrong passwords for one username within a
 * window (5 in 15 minutes by default), every login for that username answers 429 with Retry-After
 * until the window ends. Unknown usernames are counted too, so a lockout says nothing about which
 * users exist.
 */
export class LoginThrottle {
  readonly #store: LoginAttemptStore;
  readonly #max: number;
  readonly #window: number;
  readonly #clock: Clock;

  constructor(options: LoginThrottleOptions) {
    this.#store = options.store;
    this.#max = options.maxFailures ?? 5;
    this.#window = options.windowSeconds ?? 900;
    this.#clock = options.clock ?? systemClock;
  }

  /** Throws TooManyRequestsError while `username` is locked out. */
  async check(username: string): Promise<void> {
    const { key, endsAt, now } = this.#locate(username);
    if ((await this.#store.failures(key, endsAt)) >= this.#max) {
      throw new TooManyRequestsError('too many failed logins for this user; try again later', endsAt - now);
    }
  }

  async recordFailure(username: string): Promise<void> {
    const { key, endsAt } = this.#locate(username);
    await this.#store.addFailure(key, endsAt);
  }

  async recordSuccess(username: string): Promise<void> {
    const { key, endsAt } = this.#locate(username);
    await this.#store.clear(key, endsAt);
  }

  #locate(username: string) {
    const now = Math.floor(this.#clock.now() / 1000);
    const endsAt = (Math.floor(now / this.#window) + 1) * this.#window;
    // Hashed so any username, however long or odd, makes a short and safe key.
    const key = createHash('sha256').update(username).digest('base64url');
    return { key, endsAt, now };
  }
}
