import { type AttemptRule, DEFAULT_LOGIN_LIMITS } from '../../auth/login-throttle.ts';
import { DEFAULT_USER_LIMITS } from '../../limits/user-limits.ts';

/**
 * The API's limits in words, for the descriptions of the answers that refuse a request over one. Each
 * is written from the values the API enforces by default, so the document cannot drift from them.
 */

/** The request rate, in words, with the defaults of lib/limits/user-limits.ts. */
export function rateLimitText(): string {
  const { burst, requestsPerSecond } = DEFAULT_USER_LIMITS;
  return (
    'Past your request rate: every request with an accepted bearer token counts (whatever its answer, but for a 429 of the ' +
    'rate itself), on every task route together. You may make `RateLimit-Limit` requests at once; they come back evenly over ' +
    `the window of \`RateLimit-Policy\` (by default ${burst} at once and ${requestsPerSecond} a second on average, unless the ` +
    'deployment or your user sets others). Wait `Retry-After` seconds; `RateLimit-Remaining` is 0.'
  );
}

/** The open-task limit, in words, with the default of lib/limits/user-limits.ts. */
export function openTaskLimitText(): string {
  return (
    'on a submission, past your open-task limit: the tasks you have that have not ended (SCHEDULED, PENDING or RETRY) count ' +
    `against it (by default ${DEFAULT_USER_LIMITS.openTasks}). A batch needs a place for every task it would accept, and is ` +
    'refused whole when they do not all fit (a batch larger than the limit itself is a 400: split it). `Retry-After` is 1: ' +
    'wait for some tasks to end, or cancel some. The code says which limit it was: `too_many_requests` for the rate, ' +
    '`open_task_limit` for the open tasks; `message` gives the numbers.'
  );
}

/** The login limits, in words, from the values the API enforces (lib/auth/login-throttle.ts). */
export function loginLimitsText(): string {
  const { perUserAndAddress, perUser, perAddress } = DEFAULT_LOGIN_LIMITS;
  const minutes = (rule: AttemptRule) => `${rule.windowSeconds / 60} minutes`;
  return (
    `Login limits, each over a rolling window: ${perUserAndAddress.limit} wrong passwords for one user name from one address in any ${minutes(perUserAndAddress)}, ` +
    `${perUser.limit} for one name from all addresses (not counted against an address the user has logged in from) in any ${minutes(perUser)}, ` +
    `${perAddress.limit} from one address whatever the names in any ${minutes(perAddress)}; ` +
    'or more logins are waiting for a password check than the service takes at once.'
  );
}
