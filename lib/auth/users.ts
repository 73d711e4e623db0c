import { UnauthorizedError } from '../errors.ts';
import { hashPassword, verifyPassword } from './passwords.ts';

export interface UserRecord {
  readonly username: string;
  readonly passwordHash: string;
}

/** The users allowed to ask for tokens, from configuration. */
export class UserDirectory {
  readonly #users: ReadonlyMap<string, string>;
  /** Checked for unknown usernames, so a wrong name costs the same time as a wrong password. */
  #decoy: Promise<string> | undefined;

  constructor(users: readonly UserRecord[]) {
    this.#users = new Map(users.map((user) => [user.username, user.passwordHash]));
  }

  /** Returns the username when the password matches; otherwise throws UnauthorizedError. */
  async authenticate(username: string, password: string): Promise<string> {
    const hash = this.#users.get(username);
    const matches = await verifyPassword(password, hash ?? (await this.#decoyHash()));
    if (!hash || !matches) throw new UnauthorizedError('wrong username or password');
    return username;
  }

  #decoyHash(): Promise<string> {
    this.#decoy ??= hashPassword('decoy password that no user has');
    return this.#decoy;
  }
}
