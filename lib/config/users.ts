import * as z from 'zod/mini';
import { isPasswordHash } from '../auth/passwords.ts';
import { DEFAULT_USER_LIMITS, MAX_OPEN_TASK_LIMIT, type UserLimits } from '../limits/user-limits.ts';
import { isWebhookSecret } from '../webhooks/secrets.ts';
import { withDefault } from './env-schema.ts';

/**
 * The users of the API (DOOZER_USERS or its SSM parameter) and their limits: the deployment's
 * defaults, and each user's own.
 */

/**
 * The local stack's user (`doozer` / `doozer`, printed by `npm start` and in the README). Its name
 * and password are public, so no other stage may have a user of that name.
 */
export const DEVELOPMENT_USERNAME = 'doozer';

/** A user's own limits, each overriding the deployment's default (DOOZER_RATE_LIMIT_PER_SECOND…). */
const UserLimitsSchema = z.strictObject({
  requestsPerSecond: z.optional(z.number().check(z.positive(), z.lte(10_000))),
  burst: z.optional(z.int().check(z.gte(1), z.lte(100_000))),
  openTasks: z.optional(z.int().check(z.gte(1), z.lte(MAX_OPEN_TASK_LIMIT))),
});

const UserSchema = z.object({
  username: z.string().check(z.minLength(1)),
  passwordHash: z.string().check(z.refine(isPasswordHash, 'must be an scrypt hash made by `npm run hash-password`')),
  /** Signs the user's completion webhooks (Standard Webhooks); without one, the user cannot ask for them outside the local stage. */
  webhookSecret: z.optional(z.string().check(z.refine(isWebhookSecret, 'must be whsec_ and base64 of 24 to 64 random bytes'))),
  /** Where the user's tasks are POSTed when they end, unless a task names its own. */
  callbackUrl: z.optional(z.string().check(z.minLength(1), z.maxLength(2048))),
  limits: z.optional(UserLimitsSchema),
});

/** The users' JSON array, parsed and checked. */
export const UsersSchema = z.pipe(
  z.transform((value: unknown, ctx) => {
    if (typeof value !== 'string') return value;
    try {
      return JSON.parse(value) as unknown;
    } catch {
      ctx.issues.push({ code: 'custom', message: 'must be a JSON array of {"username","passwordHash"}', input: value });
      return z.NEVER;
    }
  }),
  z
    .array(UserSchema, { error: (issue) => (issue.input === undefined ? 'is missing' : 'must be a JSON array of {"username","passwordHash"}') })
    .check(z.minLength(1, 'must list at least one user')),
);

/** Every user's limits unless their own entry in the users says otherwise (UserLimitsSchema). */
export const LimitSettings = {
  DOOZER_RATE_LIMIT_PER_SECOND: withDefault(z.coerce.number().check(z.positive(), z.lte(10_000)), DEFAULT_USER_LIMITS.requestsPerSecond),
  DOOZER_RATE_LIMIT_BURST: withDefault(z.coerce.number().check(z.int(), z.gte(1), z.lte(100_000)), DEFAULT_USER_LIMITS.burst),
  DOOZER_OPEN_TASK_LIMIT: withDefault(z.coerce.number().check(z.int(), z.gte(1), z.lte(MAX_OPEN_TASK_LIMIT)), DEFAULT_USER_LIMITS.openTasks),
};

/** The deployment's default limits, from the parsed LimitSettings. */
export function limitDefaults(e: { DOOZER_RATE_LIMIT_PER_SECOND: number; DOOZER_RATE_LIMIT_BURST: number; DOOZER_OPEN_TASK_LIMIT: number }): UserLimits {
  return { requestsPerSecond: e.DOOZER_RATE_LIMIT_PER_SECOND, burst: e.DOOZER_RATE_LIMIT_BURST, openTasks: e.DOOZER_OPEN_TASK_LIMIT };
}
