import { createHash, randomBytes } from 'node:crypto';
import { TooManyRequestsError } from '../errors.ts';
import { type Clock, systemClock } from '../tasks/wait-policy.ts';

/** At most `limit` attempts within any `windowSeconds` (a rolling window, not fixed ones). */
export interface AttemptRule {
  readonly limit: number;
  readonly windowSeconds: number;
}

export type Admission = { readonly admitted: true } | { readonly admitted: false; readonly retryAfterMs: number };

/**
 * Login attempts per key, in rolling windows. One implementation keeps them in DynamoDB
 * (lib/aws/dynamodb-login-attempts.ts), so every API instance sees the same attempts.
 */
export interface LoginAttemptStore {
  /**
   * Records attempt `attemptId`, made at `atMs`, under `key` unless `rule.limit` attempts made
   * within `rule.windowSeconds` before it are recorded there already. Atomic: however many calls run
   * at once, at most `rule.limit` attempts within any window are ever admitted. A refusal says when
   * the oldest of them leaves the window.
   */
  admit(key: string, attemptId: string, atMs: number, rule: AttemptRule): Promise<Admission>;
  /** Removes one recorded attempt; nothing happens if it is gone. */
  forget(key: string, attemptId: string): Promise<void>;
}

/** The limits on `POST /auth/token`. Every attempt counts until its password proves right. */
export interface LoginLimits {
  /** One user name from one client address: the guessing limit. */
  readonly perUserAndAddress: AttemptRule;
  /** One user name from all addresses together: guessing spread over many addresses. */
  readonly perUser: AttemptRule;
  /** One client address, whatever the names: a flood of ever-new names from one place. */
  readonly perAddress: AttemptRule;
}

export const DEFAULT_LOGIN_LIMITS: LoginLimits = {
  perUserAndAddress: { limit: 5, windowSeconds: 900 },
  perUser: { limit: 50, windowSeconds: 900 },
  perAddress: { limit: 100, windowSeconds: 900 },
};

export interface LoginThrottleOptions {
  readonly store: LoginAttemptStore;
  readonly limits?: LoginLimits;
  readonly clock?: Clock;
}

/** An admitted login attempt. A wrong password leaves it counted. */
export interface LoginAttempt {
  /** Uncounts the attempt: its password proved right, or was never checked. */
  giveBack(): Promise<void>;
}

/**
 * Slows down password guessing. Each attempt is counted, atomically, under three keys before its
 * password is checked, so a burst of simultaneous guesses cannot get past the limit by racing a
 * read. The keys: the user name from the client address (5 in any 15 minutes), the user name
 * alone (50: guessing spread over many addresses) and the address alone (100: a flood of names).
 * Counting per address as well as per name means five guesses from one place lock that place out,
 * not the user: the right password from another address still works. A right password gives its
 * attempt back, so logging in often is never a lockout. Unknown names count like known ones, so a
 * lockout says nothing about which users exist.
 *
 * The address must come from the connection (API Gateway's source IP), never from a header a
 * client can set.
 */
export class LoginThrottle {
  readonly #store: LoginAttemptStore;
  readonly #limits: LoginLimits;
  readonly #clock: Clock;

  constructor(options: LoginThrottleOptions) {
    this.#store = options.store;
    this.#limits = options.limits ?? DEFAULT_LOGIN_LIMITS;
    this.#clock = options.clock ?? systemClock;
  }

  /**
   * Counts a login attempt for `username` from `address`, or throws TooManyRequestsError (with
   * Retry-After) when a limit is reached. The address is checked first: a flood from one place is
   * refused with one call.
   */
  async begin(username: string, address: string): Promise<LoginAttempt> {
    const attemptId = randomBytes(9).toString('base64url');
    const atMs = this.#clock.now();
    const checks = [
      { key: `address#${digest([address])}`, rule: this.#limits.perAddress, refusal: 'too many failed logins from this address' },
      {
        key: `user-address#${digest([username, address])}`,
        rule: this.#limits.perUserAndAddress,
        refusal: 'too many failed logins for this user from this address',
      },
      { key: `user#${digest([username])}`, rule: this.#limits.perUser, refusal: 'too many failed logins for this user' },
    ];
    const counted: string[] = [];
    for (const { key, rule, refusal } of checks) {
      const admission = await this.#store.admit(key, attemptId, atMs, rule);
      if (!admission.admitted) {
        // No password is checked for this attempt, so it costs nothing under the other keys.
        await this.#forget(counted, attemptId);
        const seconds = Math.max(1, Math.ceil(admission.retryAfterMs / 1000));
        throw new TooManyRequestsError(`${refusal}; try again in ${seconds} s`, seconds);
      }
      counted.push(key);
    }
    return { giveBack: () => this.#forget(counted, attemptId) };
  }

  async #forget(keys: readonly string[], attemptId: string): Promise<void> {
    await Promise.all(keys.map((key) => this.#store.forget(key, attemptId)));
  }
}

/** Hashed so any user name or address, however long or odd, makes a short and safe key. */
function digest(parts: readonly string[]): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('base64url');
}
