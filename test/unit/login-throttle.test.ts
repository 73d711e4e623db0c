import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LoginThrottle } from '../../lib/auth/login-throttle.ts';
import { TokenIssuer } from '../../lib/auth/tokens.ts';
import { UserDirectory } from '../../lib/auth/users.ts';
import { createApp } from '../../lib/http/app.ts';
import { TaskService } from '../../lib/tasks/task-service.ts';
import { MemoryLoginAttempts } from '../support/memory-login-attempts.ts';
import { MemoryTaskStore, RecordingQueue } from '../support/memory-task-store.ts';
import { testUserDirectory } from '../support/test-users.ts';

const WINDOW_SECONDS = 900;

describe('POST /auth/token with repeated wrong passwords', () => {
  let users: UserDirectory;
  let clock: { ms: number; now(): number };
  let app: ReturnType<typeof createApp>;

  beforeAll(async () => {
    users = await testUserDirectory({ alice: 'right' });
  });

  beforeEach(() => {
    // Just after a window starts, so a whole window lies ahead.
    clock = { ms: 1_800_000_000 * 1000 + 1000, now: () => clock.ms };
    app = createApp({
      tasks: new TaskService({ store: new MemoryTaskStore(), queue: new RecordingQueue(), taskTtlSeconds: 3600 }),
      users,
      tokens: new TokenIssuer({ secret: 'a-login-throttle-test-secret-of-32-chars', issuer: 'doozer', audience: 'doozer-api', ttlSeconds: 3600 }),
      loginThrottle: new LoginThrottle({ store: new MemoryLoginAttempts(), maxFailures: 5, windowSeconds: WINDOW_SECONDS, clock }),
    });
  });

  const login = (username: string, password: string) =>
    app.request('/auth/token', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password }),
    });

  async function fail(username: string, times: number): Promise<number[]> {
    const statuses: number[] = [];
    for (let i = 0; i < times; i += 1) statuses.push((await login(username, 'wrong')).status);
    return statuses;
  }

  it('answers 401 for the first five wrong passwords, then 429 with Retry-After', async () => {
    expect(await fail('alice', 5)).toEqual([401, 401, 401, 401, 401]);
    const locked = await login('alice', 'wrong');
    expect(locked.status).toBe(429);
    expect(await locked.json()).toMatchObject({ error: { code: 'too_many_requests' } });
    const retryAfter = Number(locked.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(WINDOW_SECONDS);
  });

  it('refuses even the right password while the user is locked out', async () => {
    await fail('alice', 5);
    expect((await login('alice', 'right')).status).toBe(429);
  });

  it('lets the user in again once the window has passed', async () => {
    await fail('alice', 5);
    clock.ms += WINDOW_SECONDS * 1000;
    expect((await login('alice', 'right')).status).toBe(200);
  });

  it('forgets earlier failures after a successful login', async () => {
    await fail('alice', 4);
    expect((await login('alice', 'right')).status).toBe(200);
    expect(await fail('alice', 4)).toEqual([401, 401, 401, 401]);
    expect((await login('alice', 'right')).status).toBe(200);
  });

  it('locks out unknown usernames the same way, so a lockout does not reveal who exists', async () => {
    expect(await fail('mallory', 5)).toEqual([401, 401, 401, 401, 401]);
    expect((await login('mallory', 'wrong')).status).toBe(429);
  });

  it('counts each username on its own', async () => {
    await fail('mallory', 5);
    expect((await login('alice', 'right')).status).toBe(200);
  });
});
