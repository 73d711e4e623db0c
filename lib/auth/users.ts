import { TooManyRequestsError, UnauthorizedError } from '../errors.ts';
import { Bulkhead } from './bulkhead.ts';
import { DEFAULT_COST, costOf, hashPassword, verifyPassword } from './passwords.ts';

export interface UserRecord {
  readonly username: string;
  readonly passwordHash: string;
}

export interface UserDirectoryOptions {
  /** Password checks (scrypt, all CPU) running at once in this process: 1 by default. */
  readonly maxConcurrentChecks?: number;
  /** Checks waiting for their turn; a login beyond them gets 429 at once. 8 by default. */
  readonly maxWaitingChecks?: number;
}

/** Seconds a login refused for lack of hashing capacity is told to wait. */
const BUSY_RETRY_AFTER_SECONDS = 1;

/** The users allowed to ask for tokens, from configuration. */
export class UserDirectory {
  readonly #users: ReadonlyMap<string, string>;
  /**
   * Checked for unknown usernames, so a wrong name costs the same time as a wrong password: made
   * with the users' own cost, and started at construction (cold start), not on the first miss.
   */
  readonly #decoy: Promise<string>;
  /**
   * Every check, of a known name or not, takes a place here: a flood of logins (ever-new names cost
   * a full scrypt each) cannot take every core from the requests that run tasks.
   */
  readonly #checks: Bulkhead;

  constructor(users: readonly UserRecord[], options: UserDirectoryOptions = {}) {
    this.#users = new Map(users.map((user) => [user.username, user.passwordHash]));
    const cost = (users[0] && costOf(users[0].passwordHash)) ?? DEFAULT_COST;
    this.#decoy = hashPassword('decoy password that no user has', cost);
    this.#checks = new Bulkhead({ maxRunning: options.maxConcurrentChecks ?? 1, maxWaiting: options.maxWaitingChecks ?? 8 });
  }

  /**
   * Returns the username when the password matches; otherwise throws UnauthorizedError, or
   * TooManyRequestsError when too many checks are already running and waiting.
   */
  async authenticate(username: string, password: string): Promise<string> {
    const check = await this.#checks.run(async () => {
      const hash = this.#users.get(username);
      const matches = await verifyPassword(password, hash ?? (await this.#decoy));
      return hash !== undefined && matches;
    });
    if (check.refused) {
      throw new TooManyRequestsError('too many logins are being checked at once; try again in a second', BUSY_RETRY_AFTER_SECONDS);
    }
    if (!check.value) throw new UnauthorizedError('wrong username or password');
    return username;
  }
}
