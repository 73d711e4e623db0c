import { type UserEntry, webhookSecretOf } from '../config.ts';
import type { UserLimits } from '../limits/user-limits.ts';

/**
 * What the user configuration says of each user beside their password: their limits (their own,
 * else the deployment's defaults), the secret their webhooks are signed with, and their default
 * callbackUrl. Built once from the configuration.
 */
export class UserProfiles {
  readonly #users: ReadonlyMap<string, UserEntry>;
  readonly #defaults: UserLimits;
  readonly #stage: string;

  constructor(users: readonly UserEntry[], options: { readonly defaultLimits: UserLimits; readonly stage: string }) {
    this.#users = new Map(users.map((user) => [user.username, user]));
    this.#defaults = options.defaultLimits;
    this.#stage = options.stage;
  }

  limitsOf(username: string): UserLimits {
    return { ...this.#defaults, ...this.#users.get(username)?.limits };
  }

  webhookSecretOf(username: string): string | undefined {
    return webhookSecretOf(this.#users.get(username), this.#stage);
  }

  callbackUrlOf(username: string): string | undefined {
    return this.#users.get(username)?.callbackUrl;
  }
}
