import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_LOGIN_LIMITS, type LoginLimits, LoginThrottle, addressBlock, rollingWindow } from '../../lib/auth/login-throttle.ts';
import { UserDirectory } from '../../lib/auth/users.ts';
import { sourceIpOf } from '../../lib/aws/api-gateway.ts';
import { MemoryLoginAttempts } from '../support/memory-login-attempts.ts';
import { type TestApp, createTestApp } from '../support/app-harness.ts';
import { testPasswordHash, testUserDirectory } from '../support/test-users.ts';
import { hashPassword } from '../../lib/auth/passwords.ts';

const WINDOW_MS = 900_000;

describe('POST /auth/token under the login limits', () => {
  let users: UserDirectory;
  let clock: { ms: number; now(): number };
  let app: TestApp['app'];

  beforeAll(async () => {
    users = await testUserDirectory({ alice: 'right' });
  });

  function build(limits: LoginLimits = DEFAULT_LOGIN_LIMITS, directory = users) {
    ({ app, clock } = createTestApp({ users: directory, loginThrottle: { limits }, clientAddress: sourceIpOf }));
    clock.ms = 1_800_000_000_123;
  }

  beforeEach(() => build());

  /** A login as API Gateway would hand it over: the connection's address in the request context. */
  const login = (username: string, password: string, address = '198.51.100.1', headers: Record<string, string> = {}) =>
    app.request(
      '/auth/token',
      { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ username, password }) },
      { requestContext: { http: { sourceIp: address } } },
    );

  async function statuses(username: string, password: string, times: number, address?: string): Promise<number[]> {
    const seen: number[] = [];
    for (let i = 0; i < times; i += 1) seen.push((await login(username, password, address)).status);
    return seen;
  }

  it('answers 401 for the first five wrong passwords, then 429 with Retry-After', async () => {
    expect(await statuses('alice', 'wrong', 5)).toEqual([401, 401, 401, 401, 401]);
    const locked = await login('alice', 'wrong');
    expect(locked.status).toBe(429);
    expect(await locked.json()).toMatchObject({ error: { code: 'too_many_requests' } });
    expect(Number(locked.headers.get('retry-after'))).toBe(WINDOW_MS / 1000);
  });

  it('refuses even the right password from the address that is locked out', async () => {
    await statuses('alice', 'wrong', 5);
    expect((await login('alice', 'right')).status).toBe(429);
  });

  it('still lets the right password in from another address while one address is locked out', async () => {
    await statuses('alice', 'wrong', 5, '198.51.100.1');
    expect((await login('alice', 'right', '198.51.100.1')).status).toBe(429);
    expect((await login('alice', 'right', '203.0.113.9')).status).toBe(200);
  });

  it('counts the address from the connection, never from X-Forwarded-For', async () => {
    await statuses('alice', 'wrong', 5, '198.51.100.1');
    const spoofed = await login('alice', 'right', '198.51.100.1', { 'x-forwarded-for': '203.0.113.9', forwarded: 'for=203.0.113.9' });
    expect(spoofed.status).toBe(429);
  });

  it('keeps a rolling window: guesses at the end of one quarter-hour do not free a new five at the next', async () => {
    expect(await statuses('alice', 'wrong', 1)).toEqual([401]);
    clock.ms += WINDOW_MS - 1_000;
    expect(await statuses('alice', 'wrong', 4)).toEqual([401, 401, 401, 401]);
    clock.ms += 1_000; // The first guess has just left the window; the other four are still in it.
    expect(await statuses('alice', 'wrong', 2)).toEqual([401, 429]);
    const locked = await login('alice', 'right');
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get('retry-after'))).toBe(WINDOW_MS / 1000 - 1);
    clock.ms += WINDOW_MS - 1_000;
    expect((await login('alice', 'right')).status).toBe(200);
  });

  it('never locks out a user who logs in with the right password, however often', async () => {
    expect(await statuses('alice', 'right', 20)).toEqual(Array.from({ length: 20 }, () => 200));
    expect(await statuses('alice', 'wrong', 5)).toEqual([401, 401, 401, 401, 401]);
  });

  it('limits unknown user names exactly as known ones, so a lockout says nothing about who exists', async () => {
    expect(await statuses('mallory', 'wrong', 6)).toEqual([401, 401, 401, 401, 401, 429]);
  });

  it('stops guessing spread over many addresses with a ceiling per user name', async () => {
    build({ ...DEFAULT_LOGIN_LIMITS, perUser: { limit: 12, windowSeconds: 900 } });
    const seen: number[] = [];
    for (let address = 1; address <= 4; address += 1) seen.push(...(await statuses('alice', 'wrong', 3, `192.0.2.${address}`)));
    expect(seen).toEqual(Array.from({ length: 12 }, () => 401));
    expect((await login('alice', 'wrong', '192.0.2.99')).status).toBe(429);
    // Other names are not affected.
    expect((await login('bob', 'wrong', '192.0.2.99')).status).toBe(401);
  });

  it('keeps an address the user logged in from exempt from the per-name ceiling that guesses elsewhere reached', async () => {
    build({ ...DEFAULT_LOGIN_LIMITS, perUser: { limit: 10, windowSeconds: 900 } });
    expect((await login('alice', 'right', '203.0.113.50')).status).toBe(200);
    for (let address = 1; address <= 2; address += 1) await statuses('alice', 'wrong', 5, `192.0.2.${address}`);
    // The ceiling is reached: a new place is refused, the user's own place is not.
    expect((await login('alice', 'right', '192.0.2.77')).status).toBe(429);
    expect((await login('alice', 'right', '203.0.113.50')).status).toBe(200);
    // The exemption is from the per-name ceiling only: guesses from the user's place still count.
    expect(await statuses('alice', 'wrong', 6, '203.0.113.50')).toEqual([401, 401, 401, 401, 401, 429]);
  });

  it('counts an IPv6 client by its /64', async () => {
    expect(await statuses('alice', 'wrong', 3, '2001:db8:1:2::a')).toEqual([401, 401, 401]);
    expect(await statuses('alice', 'wrong', 3, '2001:db8:1:2:ffff:ffff:ffff:ffff')).toEqual([401, 401, 429]);
    expect((await login('alice', 'right', '2001:db8:1:3::a')).status).toBe(200);
  });

  it('stops a flood of ever-new user names from one address', async () => {
    build({ ...DEFAULT_LOGIN_LIMITS, perAddress: { limit: 10, windowSeconds: 900 } });
    const seen: number[] = [];
    for (let i = 0; i < 11; i += 1) seen.push((await login(`user-${i}`, 'guess')).status);
    expect(seen).toEqual([...Array.from({ length: 10 }, () => 401), 429]);
    expect((await login('alice', 'right', '203.0.113.9')).status).toBe(200);
  });

  it('refuses logins beyond the password checks it can run at once with 429, and does not count them as guesses', async () => {
    // A real-cost hash: each check takes long enough for the others to queue behind it.
    const slow = new UserDirectory([{ username: 'alice', passwordHash: await hashPassword('right') }], {
      maxConcurrentChecks: 1,
      maxWaitingChecks: 1,
    });
    build(DEFAULT_LOGIN_LIMITS, slow);
    const answers = await Promise.all(Array.from({ length: 4 }, (_, i) => login('alice', 'wrong', `192.0.2.${i}`)));
    const counts = answers.map((answer) => answer.status).sort();
    expect(counts).toEqual([401, 401, 429, 429]);
    const busy = answers.find((answer) => answer.status === 429)!;
    expect(busy.headers.get('retry-after')).toBe('1');
    // The refused ones were given back: their addresses still have all five guesses.
    const refusedAddress = `192.0.2.${answers.indexOf(busy)}`;
    expect(await statuses('alice', 'wrong', 4, refusedAddress)).toEqual([401, 401, 401, 401]);
    expect((await login('alice', 'right', refusedAddress)).status).toBe(200);
  });
});

describe('addressBlock', () => {
  it.each([
    ['198.51.100.7', '198.51.100.7'],
    ['::ffff:198.51.100.7', '198.51.100.7'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:0db8:0001:0002::', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['2001:db8:1:2:3:4:192.0.2.1', '2001:db8:1:2::/64'],
    ['unknown', 'unknown'],
  ])('counts %s as %s', (address, block) => {
    expect(addressBlock(address)).toBe(block);
  });
});

describe('rollingWindow', () => {
  it('splits attempts into those that left the window and those still in it, and says when the oldest leaves', () => {
    const rule = { limit: 5, windowSeconds: 900 };
    expect(rollingWindow({ a: 0, b: 100_000, c: 899_999 }, 900_000, rule)).toEqual({ stale: ['a'], live: 2, retryAfterMs: 100_000 });
    expect(rollingWindow({}, 900_000, rule)).toEqual({ stale: [], live: 0, retryAfterMs: 0 });
  });
});

describe('LoginThrottle when the store fails part-way', () => {
  it('gives back the attempts it had counted and rethrows, so an unchecked attempt costs nothing', async () => {
    const store = new MemoryLoginAttempts();
    const failing = Object.assign(Object.create(store) as MemoryLoginAttempts, {
      admit: async (key: string, id: string, at: number, rule: { limit: number; windowSeconds: number }) => {
        if (key.startsWith('user#')) throw new Error('store outage');
        return store.admit(key, id, at, rule);
      },
    });
    const throttle = new LoginThrottle({ store: failing });
    await expect(throttle.begin('alice', '198.51.100.1')).rejects.toThrow('store outage');
    expect([...store.attempts.values()].every((entries) => Object.keys(entries).length === 0)).toBe(true);
  });
});

describe('UserDirectory', () => {
  it('checks a password for an unknown name through the same bounded line as a known one', async () => {
    const directory = new UserDirectory([{ username: 'alice', passwordHash: await testPasswordHash('right') }], {
      maxConcurrentChecks: 1,
      maxWaitingChecks: 0,
    });
    const answers = await Promise.allSettled([directory.authenticate('nobody', 'x'), directory.authenticate('alice', 'right')]);
    expect(answers.map((answer) => (answer.status === 'rejected' ? (answer.reason as { code: string }).code : 'ok'))).toEqual([
      'unauthorized',
      'too_many_requests',
    ]);
  });
});
