import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { UserProfiles } from '../../lib/auth/user-profiles.ts';
import type { UserEntry } from '../../lib/config.ts';
import type { UserLimits } from '../../lib/limits/user-limits.ts';
import { type TaskView, toTaskView } from '../../lib/tasks/task.ts';
import { createTestApp, createTestTasks } from '../support/app-harness.ts';
import { RecordingNotices } from '../support/memory-task-store.ts';

/* The per-user limits (RateLimit-* headers, 429s for the request rate and for open tasks) and the
 * completion webhook's side of the API (callbackUrl checked at submission, the task view's `webhook`),
 * through the real app over in-memory adapters. */

/** A `whsec_` secret: the base64 of 32 bytes. */
const SECRET = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
/** Limits high enough that a test about something else never meets them. */
const ROOMY: UserLimits = { requestsPerSecond: 1000, burst: 1000, openTasks: 1000 };
const RATE_LIMIT_HEADERS = ['ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset', 'ratelimit-policy'];
const WEBHOOK_ID = /^msg_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/**
 * The users of these tests: alice and bob sign webhooks; bob has limits of his own; carol has no
 * webhook secret; dave has a default callbackUrl.
 */
function userEntries(bobLimits: Partial<UserLimits>): UserEntry[] {
  return [
    { username: 'alice', passwordHash: 'unused', webhookSecret: SECRET },
    { username: 'bob', passwordHash: 'unused', webhookSecret: SECRET, limits: bobLimits },
    { username: 'carol', passwordHash: 'unused' },
    { username: 'dave', passwordHash: 'unused', webhookSecret: SECRET, callbackUrl: 'https://example.com/dave-hooks' },
  ];
}

interface HarnessOptions {
  /** Every user's limits, unless their entry says otherwise. */
  readonly limits?: Partial<UserLimits>;
  /** bob's own limits. */
  readonly bobLimits?: Partial<UserLimits>;
  /** The local stage's policy: callbacks to loopback over http. */
  readonly allowLoopback?: boolean;
  /** Run every queued task at once; without it tasks stay PENDING (a queue without a consumer). */
  readonly worker?: boolean;
}

/**
 * The app with every per-user feature on, as lib/dependencies.ts wires it: profiles, request rates,
 * open-task slots released by TaskEndings, a callback policy. Not the local stage, so a user without
 * a webhook secret has none.
 */
function harness({ limits = {}, bobLimits = {}, allowLoopback = false, worker = false }: HarnessOptions = {}) {
  const notices = new RecordingNotices();
  const h = createTestApp({
    worker,
    profiles: { users: userEntries(bobLimits), defaultLimits: { ...ROOMY, ...limits } },
    callbackPolicy: { allowLoopback },
    notices,
  });
  const post = (path: string, body: unknown, user = 'alice') => h.post(path, body, { user });
  /** POST /tasks without waiting: 202 unless the task is refused. */
  const submit = (body: unknown, user = 'alice') => post('/tasks?wait=0', body, user);
  return { app: h.app, store: h.store, slots: h.slots!, notices, request: h.request, post, submit };
}

async function errorCode(response: Response): Promise<string> {
  return ((await response.json()) as { error: { code: string } }).error.code;
}

async function errorMessage(response: Response): Promise<string> {
  return ((await response.json()) as { error: { message: string } }).error.message;
}

function rateLimitHeadersOf(response: Response): Record<string, string | null> {
  return Object.fromEntries(RATE_LIMIT_HEADERS.map((name) => [name, response.headers.get(name)]));
}

const ADD = { name: 'add', args: [1, 2] };

/**
 * Stops the wall clock the rate limit reads (`Date.now()` in the app), so its numbers are exact
 * however long the test takes; timers still run, so queued tasks do too.
 */
function freezeWallClock(): void {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-01-01T12:00:00.000Z'));
  });
  afterEach(() => {
    vi.useRealTimers();
  });
}

describe('RateLimit headers', () => {
  freezeWallClock();

  it('are on every answer to a request with a valid token: a 200, a 202, a 404 of another user\'s task, a 400 of a bad body', async () => {
    const { request, submit, post } = harness({ limits: { burst: 10, requestsPerSecond: 0.01 }, worker: true });
    const ended = await post('/tasks', ADD);
    const deferred = await submit(ADD);
    const bobs = (await (await submit(ADD, 'bob')).json()) as TaskView;
    const othersTask = await request(`/tasks/${bobs.id}`);
    const badBody = await post('/tasks', { name: 'add', args: 'x' });
    expect([ended.status, deferred.status, othersTask.status, badBody.status]).toEqual([200, 202, 404, 400]);
    expect(await errorCode(othersTask)).toBe('task_not_found');
    expect(await errorCode(badBody)).toBe('invalid_request');
    // alice's four requests, one token each from a burst of 10 that refills one every 100 s.
    expect([ended, deferred, othersTask, badBody].map(rateLimitHeadersOf)).toEqual(
      [9, 8, 7, 6].map((remaining, index) => ({
        'ratelimit-limit': '10',
        'ratelimit-remaining': String(remaining),
        'ratelimit-reset': String((index + 1) * 100),
        'ratelimit-policy': '10;w=1000',
      })),
    );
  });

  it('are not on /health, nor on a 401 without a token or with a bad one', async () => {
    const { app } = harness({ limits: { burst: 3 } });
    const answers = [
      await app.request('/health'),
      await app.request('/tasks'),
      await app.request('/tasks', { headers: { authorization: 'Bearer not-a-token' } }),
    ];
    expect(answers.map((response) => response.status)).toEqual([200, 401, 401]);
    for (const response of answers) {
      for (const name of RATE_LIMIT_HEADERS) expect(response.headers.has(name), `${response.status} ${name}`).toBe(false);
    }
  });
});

describe('the request rate', () => {
  freezeWallClock();

  it('refuses the request past the burst with 429 too_many_requests, Retry-After and RateLimit-Remaining 0, and does nothing for it', async () => {
    const { request, submit, store } = harness({ limits: { burst: 3, requestsPerSecond: 0.01 } });
    for (let i = 0; i < 3; i += 1) expect((await submit(ADD)).status).toBe(202);
    const refused = await submit(ADD);
    expect(refused.status).toBe(429);
    expect(await errorCode(refused)).toBe('too_many_requests');
    // The next token comes 100 s after the first request (one every 100 s).
    expect(refused.headers.get('retry-after')).toBe('100');
    expect(rateLimitHeadersOf(refused)).toMatchObject({ 'ratelimit-limit': '3', 'ratelimit-remaining': '0' });
    expect(store.tasks.size).toBe(3);
    expect((await request('/tasks')).status).toBe(429);
  });

  it('counts each user apart, and takes a user\'s own burst over the default', async () => {
    const { request } = harness({ limits: { burst: 3, requestsPerSecond: 0.01 }, bobLimits: { burst: 5 } });
    const statuses = async (user: string, count: number) => {
      const answers: number[] = [];
      for (let i = 0; i < count; i += 1) answers.push((await request('/tasks', { user })).status);
      return answers;
    };
    expect(await statuses('alice', 4)).toEqual([200, 200, 200, 429]);
    expect(await statuses('bob', 6)).toEqual([200, 200, 200, 200, 200, 429]);
    const bobs = await request('/tasks', { user: 'bob' });
    expect(bobs.headers.get('ratelimit-limit')).toBe('5');
    expect(await statuses('carol', 4)).toEqual([200, 200, 200, 429]);
  });

  it('records no task and holds no open-task slot for the submissions of a burst the rate refused', async () => {
    const { submit, post, store, slots } = harness({ limits: { burst: 5, requestsPerSecond: 0.01, openTasks: 100 } });
    const answers = await Promise.all(Array.from({ length: 30 }, () => submit(ADD)));
    expect(answers.filter((response) => response.status === 202)).toHaveLength(5);
    expect(answers.filter((response) => response.status === 429)).toHaveLength(25);
    expect(store.tasks.size).toBe(5);
    // The refused ones' slots, taken beside the rate's write, were given back: 95 are free.
    const free = Array.from({ length: 95 }, (_, index) => ({ id: `task_free_${index}`, expiresAt: Date.now() / 1000 + 3600 }));
    expect(await slots.reserve('alice', free, 100, Date.now())).toEqual({ admitted: true });
    // A batch refused by the rate records nothing either.
    const batch = await post('/tasks/batch', { tasks: [ADD, ADD] });
    expect(batch.status).toBe(429);
    expect(store.tasks.size).toBe(5);
  });

  it('answers a bad body of a submission over the rate with the 429, and any bad body with the RateLimit headers', async () => {
    const { post } = harness({ limits: { burst: 1, requestsPerSecond: 0.01 } });
    const bad = await post('/tasks', { name: 'add', args: 'nope' });
    expect(bad.status).toBe(400);
    expect(rateLimitHeadersOf(bad)).toMatchObject({ 'ratelimit-limit': '1', 'ratelimit-remaining': '0' });
    const over = await post('/tasks', { name: 'add', args: 'nope' });
    expect(over.status).toBe(429);
  });

  it('admits exactly the burst of 50 requests made at once', async () => {
    const { request } = harness({ limits: { burst: 10, requestsPerSecond: 0.01 } });
    const answers = await Promise.all(Array.from({ length: 50 }, () => request('/tasks')));
    const statuses = answers.map((response) => response.status);
    expect(statuses.filter((status) => status === 200)).toHaveLength(10);
    expect(statuses.filter((status) => status === 429)).toHaveLength(40);
    const remaining = answers.filter((response) => response.status === 200).map((response) => response.headers.get('ratelimit-remaining'));
    expect(remaining.sort()).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
  });
});

describe('the open-task limit', () => {
  it('refuses a submission past it with 429 open_task_limit and Retry-After 1, naming the limit', async () => {
    const { submit, store } = harness({ limits: { openTasks: 2 } });
    expect((await submit(ADD)).status).toBe(202);
    expect((await submit(ADD)).status).toBe(202);
    const refused = await submit(ADD);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('1');
    // Admitted by the rate, so it still says where the caller stands there.
    expect(refused.headers.get('ratelimit-remaining')).not.toBeNull();
    const error = (await refused.json()) as { error: { code: string; message: string } };
    expect(error.error.code).toBe('open_task_limit');
    expect(error.error.message).toContain('at most 2');
    expect(store.tasks.size).toBe(2);
  });

  it('refuses a batch whole when it needs more places than are free', async () => {
    const { submit, post, store } = harness({ limits: { openTasks: 2 } });
    expect((await submit(ADD)).status).toBe(202);
    const batch = await post('/tasks/batch', { tasks: [ADD, ADD] });
    expect(batch.status).toBe(429);
    expect(batch.headers.get('retry-after')).toBe('1');
    expect(await errorCode(batch)).toBe('open_task_limit');
    expect(store.tasks.size).toBe(1);
    // One place is free: a batch of one fits.
    const one = await post('/tasks/batch', { tasks: [ADD] });
    expect(one.status).toBe(200);
    expect(((await one.json()) as { results: { task?: TaskView }[] }).results[0]?.task?.state).toBe('PENDING');
  });

  it('refuses a batch larger than the limit itself with a 400 to split it, not a 429 to retry forever', async () => {
    const { post, store } = harness({ limits: { openTasks: 2 } });
    const batch = await post('/tasks/batch', { tasks: [ADD, ADD, ADD] });
    expect(batch.status).toBe(400);
    expect(await errorMessage(batch)).toContain('split it');
    expect(store.tasks.size).toBe(0);
  });

  it('gives a place back when a task is cancelled, so the next submission is accepted', async () => {
    const { submit, request } = harness({ limits: { openTasks: 2 } });
    const first = (await (await submit(ADD)).json()) as TaskView;
    expect((await submit(ADD)).status).toBe(202);
    expect((await submit(ADD)).status).toBe(429);
    const cancelled = await request(`/tasks/${first.id}/cancel`, { method: 'POST' });
    expect(cancelled.status).toBe(200);
    expect(((await cancelled.json()) as TaskView).state).toBe('CANCELLED');
    expect((await submit(ADD)).status).toBe(202);
  });

  it('counts each user\'s open tasks apart', async () => {
    const { submit } = harness({ limits: { openTasks: 1 } });
    expect((await submit(ADD, 'alice')).status).toBe(202);
    expect((await submit(ADD, 'alice')).status).toBe(429);
    expect((await submit(ADD, 'bob')).status).toBe(202);
  });
});

describe('callbackUrl', () => {
  it.each([
    ['plain http outside the local stage', 'http://example.com/x'],
    ['a private address', 'https://10.0.0.1/x'],
    ['the cloud metadata service', 'https://169.254.169.254/latest'],
    ['a loopback address outside the local stage', 'https://127.0.0.1/x'],
  ])('refuses %s with 400 invalid_request', async (_what, callbackUrl) => {
    const { submit, store } = harness({ allowLoopback: false });
    const response = await submit({ ...ADD, callbackUrl });
    expect(response.status).toBe(400);
    expect(await errorCode(response)).toBe('invalid_request');
    expect(store.tasks.size).toBe(0);
  });

  it('names https when it refuses a plain-http callbackUrl', async () => {
    const { submit } = harness({ allowLoopback: false });
    expect(await errorMessage(await submit({ ...ADD, callbackUrl: 'http://example.com/x' }))).toContain('https');
  });

  it('accepts a loopback callbackUrl over http on the local stage, and shows it on the task', async () => {
    const { submit, request } = harness({ allowLoopback: true });
    const response = await submit({ ...ADD, callbackUrl: 'http://127.0.0.1:9/x' });
    expect(response.status).toBe(202);
    const view = (await response.json()) as TaskView;
    expect(view.callbackUrl).toBe('http://127.0.0.1:9/x');
    expect(((await (await request(`/tasks/${view.id}`)).json()) as TaskView).callbackUrl).toBe('http://127.0.0.1:9/x');
  });

  it('refuses a callbackUrl from a user without a webhook secret, naming the secret', async () => {
    const { submit } = harness({ allowLoopback: false });
    const response = await submit({ ...ADD, callbackUrl: 'https://example.com/hooks' }, 'carol');
    expect(response.status).toBe(400);
    const error = (await response.json()) as { error: { code: string; message: string } };
    expect(error.error.code).toBe('invalid_request');
    expect(error.error.message).toContain('webhook secret');
  });

  it('gives a task its owner\'s default callbackUrl when the body names none, and its own over the default', async () => {
    const { submit } = harness();
    const defaulted = (await (await submit(ADD, 'dave')).json()) as TaskView;
    expect(defaulted.callbackUrl).toBe('https://example.com/dave-hooks');
    const own = (await (await submit({ ...ADD, callbackUrl: 'https://example.com/this-one' }, 'dave')).json()) as TaskView;
    expect(own.callbackUrl).toBe('https://example.com/this-one');
    const none = (await (await submit(ADD, 'alice')).json()) as TaskView;
    expect(none).not.toHaveProperty('callbackUrl');
  });

  it('refuses only the batch item whose callbackUrl is refused', async () => {
    const { post, store } = harness({ allowLoopback: false });
    const response = await post('/tasks/batch', {
      tasks: [
        { ...ADD, callbackUrl: 'https://example.com/hooks' },
        { ...ADD, callbackUrl: 'https://10.0.0.1/x' },
        ADD,
      ],
    });
    expect(response.status).toBe(200);
    const { results } = (await response.json()) as { results: { task?: TaskView; error?: { code: string } }[] };
    expect(results.map((result) => Object.keys(result)[0])).toEqual(['task', 'error', 'task']);
    expect(results[0]?.task?.callbackUrl).toBe('https://example.com/hooks');
    expect(results[1]?.error?.code).toBe('invalid_request');
    expect(store.tasks.size).toBe(2);
  });
});

describe('the task view\'s webhook', () => {
  it('is absent while the task is open, and pending with no attempts once it was cancelled', async () => {
    const { submit, request, notices } = harness();
    const open = (await (await submit({ ...ADD, callbackUrl: 'https://example.com/hooks' })).json()) as TaskView;
    expect(open.state).toBe('PENDING');
    expect(open).not.toHaveProperty('webhook');
    expect(await (await request(`/tasks/${open.id}`)).json()).not.toHaveProperty('webhook');
    const cancelled = (await (await request(`/tasks/${open.id}/cancel`, { method: 'POST' })).json()) as TaskView;
    const pending = { id: expect.stringMatching(WEBHOOK_ID), state: 'pending', attempts: 0 };
    expect(cancelled).toMatchObject({ state: 'CANCELLED', webhook: pending });
    expect(await (await request(`/tasks/${open.id}`)).json()).toMatchObject({ state: 'CANCELLED', webhook: pending });
    expect(cancelled.webhook?.id).toBe(`msg_${open.id.slice('task_'.length)}`);
    // Handed to the notifier, which makes the attempts.
    expect(notices.sent.map((notice) => notice.taskId)).toEqual([open.id]);
  });

  it('is pending with no attempts on a task that ran to its end, and in the list', async () => {
    const { post, request } = harness({ worker: true });
    const response = await post('/tasks', { ...ADD, callbackUrl: 'https://example.com/hooks' });
    expect(response.status).toBe(200);
    const ended = (await response.json()) as TaskView;
    expect(ended).toMatchObject({ state: 'SUCCESS', result: 3, webhook: { state: 'pending', attempts: 0 } });
    const list = (await (await request('/tasks')).json()) as { tasks: TaskView[] };
    expect(list.tasks[0]).toMatchObject({ id: ended.id, webhook: { state: 'pending', attempts: 0 } });
  });

  it('is never on a task without a callbackUrl', async () => {
    const { post } = harness({ worker: true });
    const ended = (await (await post('/tasks', ADD)).json()) as TaskView;
    expect(ended.state).toBe('SUCCESS');
    expect(ended).not.toHaveProperty('webhook');
    expect(ended).not.toHaveProperty('callbackUrl');
  });
});

describe('what is configured for webhooks', () => {
  const user = (callbackUrl: string, webhookSecret?: string): UserEntry => ({
    username: 'carol',
    passwordHash: 'unused',
    callbackUrl,
    ...(webhookSecret && { webhookSecret }),
  });
  const options = { defaultLimits: { requestsPerSecond: 1, burst: 1, openTasks: 1 }, stage: 'prod', callbackPolicy: { allowLoopback: false } };
  const SECRET = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;

  it('refuses at start a default callbackUrl the address policy refuses, or one without a secret to sign with', () => {
    expect(() => new UserProfiles([user('http://hooks.example.com/x', SECRET)], options)).toThrow(/carol.*https/);
    expect(() => new UserProfiles([user('https://10.0.0.1/x', SECRET)], options)).toThrow(/carol.*private/);
    expect(() => new UserProfiles([user('https://hooks.example.com/x')], options)).toThrow(/carol.*no webhookSecret/);
    expect(new UserProfiles([user('https://hooks.example.com/x', SECRET)], options).callbackUrlOf('carol')).toBe('https://hooks.example.com/x');
  });

  it('refuses at start limits that cannot work together, rather than failing each request of that user', () => {
    const slow: UserEntry = { username: 'dave', passwordHash: 'unused', limits: { requestsPerSecond: 0.000001, burst: 100_000 } };
    expect(() => new UserProfiles([slow], options)).toThrow(/dave.*refill/);
  });

  it('shows no webhook on a task that was never accepted (its send failed), since none is sent', async () => {
    const { tasks: service, store, queue } = createTestTasks({ worker: false, taskTtlSeconds: 3600 });
    queue.failing = true;
    await expect(service.submit('alice', { name: 'add', args: [1, 2] }, 0, { callbackUrl: 'https://hooks.example.com/x' })).rejects.toMatchObject({
      code: 'unavailable',
    });
    const [task] = [...store.tasks.values()];
    expect(task).toMatchObject({ state: 'FAILURE', error: { code: 'enqueue_failed' } });
    expect(toTaskView(task!)).not.toHaveProperty('webhook');
  });
});
