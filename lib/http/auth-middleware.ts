import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import type { TokenIssuer } from '../auth/tokens.ts';
import type { UserProfiles } from '../auth/user-profiles.ts';
import { TooManyRequestsError, UnauthorizedError } from '../errors.ts';
import type { RequestRateStore } from '../ports.ts';
import { rateLimitHeaders } from '../limits/user-limits.ts';
import type { AppEnv } from './app-env.ts';

/** What the routes behind a bearer token need: the tokens to verify, and each user's rate and limits. */
export interface AuthDependencies {
  readonly tokens: TokenIssuer;
  /** Each user's limits; without it (or `rates`) requests are not limited. */
  readonly profiles?: UserProfiles;
  /** Where each user's request rate is counted. */
  readonly rates?: RequestRateStore;
}

// Our tokens are about 200 characters; a longer one is refused before any decoding or crypto.
const MAX_TOKEN_LENGTH = 4096;

/**
 * The middlewares of the routes behind a bearer token: each finds the caller (401 without a valid
 * token) and counts the request against their rate (429 past it), before anything is done for them.
 */
export function authMiddleware(deps: AuthDependencies) {
  /** The caller, from the bearer token: 401 without a valid one. */
  const authenticate = async (c: Context<AppEnv>): Promise<string> => {
    const header = c.req.header('authorization');
    const match = header ? /^Bearer +(\S+)$/i.exec(header) : null;
    if (!match?.[1]) {
      throw new UnauthorizedError(header ? 'the Authorization header must be "Bearer <token>"' : 'a bearer token is required; get one from POST /auth/token');
    }
    if (match[1].length > MAX_TOKEN_LENGTH) {
      throw new UnauthorizedError(`the bearer token is longer than ${MAX_TOKEN_LENGTH} characters`, { bearerError: 'invalid_token' });
    }
    const user = await deps.tokens.verify(match[1]);
    c.set('user', user);
    return user;
  };

  /**
   * Counts the request against the caller's rate: resolves once admitted, with the RateLimit headers
   * set on every answer to this request, an error's included (c.header is kept by c.json); rejects
   * with a 429 when refused. Nothing when the app has no limits.
   */
  const admit = async (c: Context<AppEnv>, user: string): Promise<void> => {
    if (!deps.rates || !deps.profiles) return;
    const limits = deps.profiles.limitsOf(user);
    const decision = await deps.rates.take(user, Date.now(), limits);
    for (const [name, value] of Object.entries(rateLimitHeaders(decision))) c.header(name, value);
    if (!decision.admitted) {
      throw new TooManyRequestsError(
        `more than ${limits.burst} requests at once or ${limits.requestsPerSecond} a second on average; try again in ${decision.retryAfterSeconds ?? 1} s`,
        decision.retryAfterSeconds ?? 1,
      );
    }
  };

  // Counted once the caller is known, before anything is done for them: a refused request did nothing.
  const requireUser = createMiddleware<AppEnv>(async (c, next) => {
    await admit(c, await authenticate(c));
    await next();
  });

  /**
   * As requireUser, for the routes that submit tasks: the rate's write runs beside the open-task
   * slots' (TaskService awaits both before it writes anything), not before it. The handler awaits
   * the admission again before it answers, for the paths that write nothing (an idempotent replay);
   * an error answer waits for it too (`answerError` in error-handling.ts).
   */
  const requireSubmitter = createMiddleware<AppEnv>(async (c, next) => {
    const admission = admit(c, await authenticate(c));
    // Decided later; never an unhandled rejection meanwhile.
    admission.catch(() => {});
    c.set('admission', admission);
    await next();
  });

  return { requireUser, requireSubmitter };
}
