import { createHash, randomBytes } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import { TooManyRequestsError } from '../errors.ts';
import { type Clock, systemClock } from '../clock.ts';
import type { LoginAttemptStore } from '../ports.ts';

/** At most `limit` attempts within any `windowSeconds` (a rolling window, not fixed ones). */
export interface AttemptRule {
  readonly limit: number;
  readonly windowSeconds: number;
}

export type Admission = { readonly admitted: true } | { readonly admitted: false; readonly retryAfterMs: number };

/**
 * A rolling window at `atMs` over recorded attempts (attempt id -> epoch ms): the attempts that have
 * left it, how many are still in it, and when the oldest of those leaves. Both stores use it.
 */
export function rollingWindow(
  attempts: Readonly<Record<string, number>>,
  atMs: number,
  rule: AttemptRule,
): { readonly stale: string[]; readonly live: number; readonly retryAfterMs: number } {
  const windowMs = rule.windowSeconds * 1000;
  const entries = Object.entries(attempts);
  const liveTimes = entries.filter(([, at]) => at > atMs - windowMs).map(([, at]) => at);
  return {
    stale: entries.filter(([, at]) => at <= atMs - windowMs).map(([id]) => id),
    live: liveTimes.length,
    retryAfterMs: liveTimes.length === 0 ? 0 : Math.min(...liveTimes) + windowMs - atMs,
  };
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

/** How long an address a user logged in from stays exempt from that user's ceiling: 30 days. */
export const TRUSTED_ADDRESS_SECONDS = 30 * 24 * 3600;

export interface LoginThrottleOptions {
  readonly store: LoginAttemptStore;
  readonly limits?: LoginLimits;
  readonly clock?: Clock;
}

/** An admitted login attempt. A wrong password leaves it counted. */
export interface LoginAttempt {
  /** The password proved right: the attempt is uncounted, and the address trusted for this user. */
  succeeded(): Promise<void>;
  /** The password was never checked (no capacity): the attempt is uncounted. */
  giveBack(): Promise<void>;
}

/**
 * Slows down password guessing. Each attempt is counted, atomically, under three keys before its
 * password is checked, so a burst of simultaneous guesses cannot get past a limit by racing a read.
 * The keys: the user name from the client address (the guessing limit), the user name alone
 * (guessing spread over many addresses) and the address alone (a flood of names from one place).
 * Counting per address means that guesses from one place lock that place out, not the user: the
 * right password from another address still works. An address the user has logged in from before
 * is exempt from the per-name ceiling, so guesses from many addresses cannot lock the user out of
 * their usual places either. A right password gives its attempt back, so logging in often is never
 * a lockout. Unknown names count like known ones, so a lockout says nothing about who exists.
 *
 * The address must come from the connection (API Gateway's source IP), never from a header a
 * client can set. IPv6 addresses count by their /64, the block one subscriber usually holds.
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
    const place = addressBlock(address);
    const trustKey = `trusted#${digest([username, place])}`;
    const checks = [
      { key: `address#${digest([place])}`, rule: this.#limits.perAddress, refusal: 'too many failed logins from this address' },
      {
        key: `user-address#${digest([username, place])}`,
        rule: this.#limits.perUserAndAddress,
        refusal: 'too many failed logins for this user from this address',
      },
      { key: `user#${digest([username])}`, rule: this.#limits.perUser, refusal: 'too many failed logins for this user', trustKey },
    ];
    const counted: string[] = [];
    try {
      for (const { key, rule, refusal, trustKey: exemptIfTrusted } of checks) {
        const admission = await this.#store.admit(key, attemptId, atMs, rule);
        if (admission.admitted) {
          counted.push(key);
        } else if (!(exemptIfTrusted && (await this.#store.isTrusted(exemptIfTrusted, atMs)))) {
          const seconds = Math.max(1, Math.ceil(admission.retryAfterMs / 1000));
          throw new TooManyRequestsError(`${refusal}; try again in ${seconds} s`, seconds);
        }
      }
    } catch (error) {
      // No password is checked for this attempt, so it costs nothing under the other keys.
      await this.#forget(counted, attemptId).catch(() => {});
      throw error;
    }
    return {
      succeeded: async () => {
        await Promise.all([this.#forget(counted, attemptId), this.#store.trust(trustKey, atMs + TRUSTED_ADDRESS_SECONDS * 1000)]);
      },
      giveBack: () => this.#forget(counted, attemptId),
    };
  }

  async #forget(keys: readonly string[], attemptId: string): Promise<void> {
    await Promise.all(keys.map((key) => this.#store.forget(key, attemptId)));
  }
}

/**
 * The block an address counts as: an IPv4 address itself (an IPv4-mapped IPv6 one included), an
 * IPv6 address its /64. Anything else (no address known) as it is.
 */
export function addressBlock(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (mapped && isIPv4(mapped[1]!)) return mapped[1]!;
  const bare = address.split('%')[0]!;
  if (!isIPv6(bare)) return address;
  const [head = '', tail] = bare.toLowerCase().split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  // A trailing dotted IPv4 part stands for two groups.
  const groupsOf = (parts: string[]) => parts.reduce((count, part) => count + (part.includes('.') ? 2 : 1), 0);
  const zeros = tail === undefined ? 0 : 8 - groupsOf(left) - groupsOf(right);
  const groups = [...left, ...Array.from({ length: zeros }, () => '0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((group) => Number.parseInt(group, 16).toString(16))
    .join(':')}::/64`;
}

/** Hashed so any user name or address, however long or odd, makes a short and safe key. */
function digest(parts: readonly string[]): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('base64url');
}
