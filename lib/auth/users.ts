import { UnauthorizedError } from '../errors.ts';
import { DEFAULT_COST, costOf, hashPassword, verifyPassword } from './passwords.ts';

export interface UserRecord {
  readonly username: string;
  readonly passwordHash: string;
}

/** The users allowed to ask for tokens, from configuration. */
export class UserDirectory {
  readonly #users: ReadonlyMap<string, string>;
  /**
   * Checked for unknown usernames, so a wrong name costs the same time as a wrong password: made
   * with the users' own cost, and started at construction (cold start), not on the first miss.
   */
  readonly #decoy: Promise<string>;

  constructor(users: readonly UserRecord[]) {
    this.#users = new Map(users.map((user) => [user.username, user.passwordHash]));
    const cost = (users[0] && costOf(users[0].passwordHash)) ?? DEFAULT_COST;
    this.#decoy = hashPassword('decoy password that no user has', cost);
  }

  /** Returns the username when the password matches; otherwise throws UnauthorizedError. */
  async authenticate(username: string, password: string): Promise<string> {
    const hash = this.#users.get(username);
    const matches = await verifyPassword(password, hash ?? (await this.#decoy));
    if (!hash || !matches) throw new UnauthorizedError('wrong username or password');
    return username;
  }
}
