import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type AttemptRule, DEFAULT_LOGIN_LIMITS } from '../../lib/auth/login-throttle.ts';
import { UserDirectory } from '../../lib/auth/users.ts';
import { sourceIpOf } from '../../lib/aws/api-gateway.ts';
import { DynamoDbLoginAttempts } from '../../lib/aws/dynamodb-login-attempts.ts';
import { systemClock } from '../../lib/clock.ts';
import { type TestApp, createTestApp } from '../support/app-harness.ts';
import { useEmulators } from '../support/emulators.ts';
import { testPasswordHash } from '../support/test-users.ts';

const RULE: AttemptRule = { limit: 5, windowSeconds: 900 };
const T0 = 1_800_000_000_000;

describe('DynamoDbLoginAttempts (dynalite)', () => {
  const emulators = useEmulators();
  let attempts: DynamoDbLoginAttempts;
  let key = 0;
  const freshKey = () => `key-${(key += 1)}`;

  beforeAll(() => {
    attempts = new DynamoDbLoginAttempts({ client: emulators.documents, tableName: emulators.tableName });
  });

  it('admits exactly the limit of 50 attempts made at once on a new key', async () => {
    const k = freshKey();
    const admissions = await Promise.all(Array.from({ length: 50 }, (_, i) => attempts.admit(k, `a${i}`, T0, RULE)));
    expect(admissions.filter((admission) => admission.admitted)).toHaveLength(5);
    expect(admissions.filter((admission) => !admission.admitted)).toEqual(
      Array.from({ length: 45 }, () => ({ admitted: false, retryAfterMs: 900_000 })),
    );
  });

  it('admits exactly the limit of 50 attempts made at once on a key whose earlier attempts have expired', async () => {
    const k = freshKey();
    for (let i = 0; i < 5; i += 1) await attempts.admit(k, `old${i}`, T0, RULE);
    const later = T0 + 900_000;
    const admissions = await Promise.all(Array.from({ length: 50 }, (_, i) => attempts.admit(k, `new${i}`, later, RULE)));
    expect(admissions.filter((admission) => admission.admitted)).toHaveLength(5);
  });

  it('frees one place as each attempt leaves the rolling window, and says when', async () => {
    const k = freshKey();
    await attempts.admit(k, 'first', T0, RULE);
    for (let i = 0; i < 4; i += 1) await attempts.admit(k, `b${i}`, T0 + 600_000, RULE);
    await expect(attempts.admit(k, 'x', T0 + 899_000, RULE)).resolves.toEqual({ admitted: false, retryAfterMs: 1_000 });
    await expect(attempts.admit(k, 'y', T0 + 900_000, RULE)).resolves.toEqual({ admitted: true });
    await expect(attempts.admit(k, 'z', T0 + 900_000, RULE)).resolves.toEqual({ admitted: false, retryAfterMs: 600_000 });
  });

  it('forgets one attempt, leaving the others counted; forgetting twice or on a new key does nothing', async () => {
    const k = freshKey();
    for (let i = 0; i < 5; i += 1) await attempts.admit(k, `c${i}`, T0, RULE);
    await attempts.forget(k, 'c2');
    await attempts.forget(k, 'c2');
    await attempts.forget(freshKey(), 'c2');
    await expect(attempts.admit(k, 'd', T0, RULE)).resolves.toEqual({ admitted: true });
    await expect(attempts.admit(k, 'e', T0, RULE)).resolves.toMatchObject({ admitted: false });
  });

  it('trusts a key until the time it was given, and no other key', async () => {
    const [trusted, other] = [freshKey(), freshKey()];
    await attempts.trust(trusted, T0 + 60_000);
    await expect(attempts.isTrusted(trusted, T0)).resolves.toBe(true);
    await expect(attempts.isTrusted(trusted, T0 + 60_000)).resolves.toBe(false);
    await expect(attempts.isTrusted(other, T0)).resolves.toBe(false);
  });

  it('keeps keys apart', async () => {
    const [a, b] = [freshKey(), freshKey()];
    for (let i = 0; i < 5; i += 1) await attempts.admit(a, `f${i}`, T0, RULE);
    await expect(attempts.admit(b, 'g', T0, RULE)).resolves.toEqual({ admitted: true });
  });

  describe('through the app: bursts of simultaneous logins', () => {
    let checked: { wrong: number; right: number };
    let app: TestApp['app'];

    beforeEach(async () => {
      checked = { wrong: 0, right: 0 };
      const users = [{ username: 'doozer', passwordHash: await testPasswordHash('right') }];
      // The real directory, counting the passwords it is asked to check.
      const directory = new (class extends UserDirectory {
        override authenticate(username: string, password: string): Promise<string> {
          if (password === 'right') checked.right += 1;
          else checked.wrong += 1;
          return super.authenticate(username, password);
        }
      })(users, { maxConcurrentChecks: 1, maxWaitingChecks: 100 });
      ({ app } = createTestApp({
        users: directory,
        loginThrottle: { store: new DynamoDbLoginAttempts({ client: emulators.documents, tableName: emulators.tableName }) },
        clientAddress: sourceIpOf,
        clock: systemClock,
      }));
    });

    const login = (username: string, password: string, address: string) =>
      app.request(
        '/auth/token',
        { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) },
        { requestContext: { http: { sourceIp: address } } },
      );

    it('checks at most five passwords of 59 wrong and 1 right sent at once from one address', async () => {
      const passwords = Array.from({ length: 60 }, (_, i) => (i === 29 ? 'right' : 'wrong'));
      const answers = await Promise.all(passwords.map((password) => login('doozer', password, '198.51.100.7')));
      const statuses = answers.map((answer) => answer.status);
      expect(checked.wrong).toBeLessThanOrEqual(DEFAULT_LOGIN_LIMITS.perUserAndAddress.limit);
      expect(checked.wrong + checked.right).toBeLessThanOrEqual(DEFAULT_LOGIN_LIMITS.perUserAndAddress.limit + 1);
      expect(statuses.filter((status) => status === 401)).toHaveLength(checked.wrong);
      expect(statuses.filter((status) => status === 429).length).toBeGreaterThanOrEqual(54);
      // The right password got a token only if it was among the attempts admitted.
      expect(statuses[29]).toBe(checked.right === 1 ? 200 : 429);
    });

    it('answers 50 wrong passwords sent at once with five 401s and forty-five 429s', async () => {
      const answers = await Promise.all(Array.from({ length: 50 }, () => login('doozer', 'wrong', '198.51.100.8')));
      const statuses = answers.map((answer) => answer.status).sort();
      expect(statuses).toEqual([...Array.from({ length: 5 }, () => 401), ...Array.from({ length: 45 }, () => 429)]);
      expect(checked.wrong).toBe(5);
      // Locked out from there, the user still gets in from elsewhere.
      expect((await login('doozer', 'right', '198.51.100.8')).status).toBe(429);
      expect((await login('doozer', 'right', '203.0.113.8')).status).toBe(200);
    });
  });
});
