import { ConfigError, type UserEntry, webhookSecretOf } from '../config.ts';
import { type TargetPolicy, checkCallbackUrl } from '../webhooks/target-policy.ts';
import { type UserLimits, userLimitProblems } from '../limits/user-limits.ts';

/**
 * What the user configuration says of each user beside their password: their limits (their own,
 * else the deployment's defaults), the secret their webhooks are signed with, and their default
 * callbackUrl. Built once from the configuration.
 */
export class UserProfiles {
  readonly #users: ReadonlyMap<string, UserEntry>;
  readonly #defaults: UserLimits;
  readonly #stage: string;

  /**
   * @throws ConfigError when a user's default callbackUrl is one the address policy refuses, or
   * belongs to a user with no webhook secret: every submission of theirs would be refused for it.
   */
  constructor(users: readonly UserEntry[], options: { readonly defaultLimits: UserLimits; readonly stage: string; readonly callbackPolicy: TargetPolicy }) {
    this.#users = new Map(users.map((user) => [user.username, user]));
    this.#defaults = options.defaultLimits;
    this.#stage = options.stage;
    const problems = users.flatMap((user) => {
      // The limits as each user has them, defaults merged: a pair that is wrong together (a refill
      // time over a year) must stop the start, not fail every request of that user.
      const limits = userLimitProblems(this.limitsOf(user.username)).map((problem) => `  DOOZER_USERS (${JSON.stringify(user.username)}): its limits: ${problem}`);
      if (limits.length > 0) return limits;
      if (user.callbackUrl === undefined) return [];
      const checked = checkCallbackUrl(user.callbackUrl, options.callbackPolicy);
      if (!checked.ok) return [`  DOOZER_USERS (${JSON.stringify(user.username)}): its default ${checked.reason}`];
      if (this.webhookSecretOf(user.username) === undefined) {
        return [`  DOOZER_USERS (${JSON.stringify(user.username)}): has a default callbackUrl but no webhookSecret to sign its webhooks with`];
      }
      return [];
    });
    problems.push(...userLimitProblems(this.#defaults).map((problem) => `  the default limits (DOOZER_RATE_LIMIT_*, DOOZER_OPEN_TASK_LIMIT): ${problem}`));
    if (problems.length > 0) throw new ConfigError(`doozer is misconfigured:\n${problems.join('\n')}`);
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
