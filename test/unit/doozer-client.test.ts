import { describe, expect, it } from 'vitest';
import type { DoozerClientOptions } from '../../client/src/client-options.ts';
import { DoozerClient } from '../../client/src/doozer-client.ts';
import { DoozerApiError, DoozerConnectionError, DoozerTaskEndedError } from '../../client/src/errors.ts';
import { type CachedToken, MemoryTokenCache } from '../../client/src/token-cache.ts';
import type { TaskView } from '../../client/src/types.ts';
import { TokenIssuer } from '../../lib/auth/tokens.ts';
import { systemClock } from '../../lib/clock.ts';
import type { TASKS } from '../../tasks/index.ts';
import { createTestApp } from '../support/app-harness.ts';
import { catalog } from '../support/catalog.ts';
import type { MemoryTaskStore } from '../support/memory-task-store.ts';
import { pendingTask } from '../support/task-fixtures.ts';

const URL_BASE = 'http://doozer.test';
const TASK_ID = /^task_[0-9a-f-]{36}$/;
const TOKEN_SETTINGS = { issuer: 'doozer', audience: 'doozer-api', ttlSeconds: 3_600 };
const tokens = new TokenIssuer({ ...TOKEN_SETTINGS, secret: 'a-doozer-client-test-secret-of-32-bytes-or-more' });
/** Same issuer and audience, another key: its tokens look right but the API refuses them. */
const foreignTokens = new TokenIssuer({ ...TOKEN_SETTINGS, secret: 'another-secret-the-api-does-not-know-about-at-all' });

interface Call {
  readonly route: string;
  /** The query, e.g. `?wait=1`. */
  readonly search: string;
  readonly status: number;
  readonly body: unknown;
}

/**
 * What runs the queued tasks: `now` finishes each at once (during the API's wait), `never` leaves
 * it PENDING, `on-lookup` holds it until the client first looks the task up, then finishes it, so
 * the task ends while a lookup is waiting.
 */
type Consumer = 'now' | 'never' | 'on-lookup';

/**
 * The real app over in-memory adapters, and a DoozerClient whose fetch calls it in-process. With
 * `ids`, new tasks get these ids in turn, so a test can name one before it exists.
 */
function harness({ consumer = 'now' as Consumer, ids = undefined as readonly string[] | undefined } = {}) {
  let release!: () => void;
  const lookedUp = new Promise<void>((resolve) => (release = resolve));
  let issued = 0;
  const { app, store, queue, worker } = createTestApp({
    clock: systemClock,
    taskTtlSeconds: 3_600,
    tokens,
    worker:
      consumer === 'never'
        ? false
        : async (body, { worker }) => {
            if (consumer === 'on-lookup') await lookedUp;
            return worker.process(body);
          },
    ...(ids && { service: { newId: () => ids[issued++]! } }),
  });
  const calls: Call[] = [];
  const fetch: typeof globalThis.fetch = async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : input);
    const method = init?.method ?? 'GET';
    if (method === 'GET' && url.pathname.startsWith('/tasks/')) release();
    const response = await app.request(input, init);
    const body = typeof init?.body === 'string' ? JSON.parse(init.body) : undefined;
    calls.push({ route: `${method} ${url.pathname.replace(/^\/tasks\/(?!batch$)[^/]+/, '/tasks/:id')}`, search: url.search, status: response.status, body });
    return response;
  };
  const cache = new MemoryTokenCache();
  const client = (options: Partial<DoozerClientOptions> = {}) =>
    new DoozerClient({ url: URL_BASE, username: 'alice', password: 'alice-password', tokenCache: cache, fetch, ...options });
  /** Each call as `METHOD /route status`, in order. */
  const routes = () => calls.map((call) => `${call.route} ${call.status}`);
  return { store, queue, worker, calls, routes, client };
}

/**
 * A cache that already holds `seed` under whatever key the client asks for, as if an earlier run
 * had stored it; what the client stores itself takes precedence.
 */
class SeededTokenCache extends MemoryTokenCache {
  constructor(readonly seed: CachedToken) {
    super();
  }
  override async get(key: string): Promise<CachedToken | undefined> {
    return (await super.get(key)) ?? this.seed;
  }
}

/** Awaits `promise` expecting a DoozerApiError and returns it. */
async function apiError(promise: Promise<unknown>): Promise<DoozerApiError> {
  const error = await promise.then(() => undefined, (caught: unknown) => caught);
  expect(error).toBeInstanceOf(DoozerApiError);
  return error as DoozerApiError;
}

describe('DoozerClient.submit', () => {
  it('returns the finished task with its result when a worker ends it within the wait', async () => {
    const { client } = harness();
    const { task, deferred } = await client().submit('add', [20, 22]);
    expect(deferred).toBe(false);
    expect(task).toMatchObject({ name: 'add', args: [20, 22], state: 'SUCCESS', result: 42 });
    expect(task.id).toMatch(TASK_ID);
  });

  it('reports deferred: true with the PENDING task when the API answers 202', async () => {
    const { client, calls, queue } = harness({ consumer: 'never' });
    const { task, deferred } = await client().submit('mul', [6, 7], { wait: 0 });
    expect(deferred).toBe(true);
    expect(task).toMatchObject({ name: 'mul', args: [6, 7], state: 'PENDING' });
    expect(task.result).toBeUndefined();
    expect(calls.at(-1)).toMatchObject({ route: 'POST /tasks', status: 202 });
    expect(queue.sent.map((message) => message.taskId)).toEqual([task.id]);
  });

  it('sends bigint arguments exactly, as decimal strings beyond the safe range, and reads the exact result', async () => {
    const { client, calls } = harness();
    const big = 2n ** 80n;
    const { task } = await client().submit('add', [big, 1n, -5n, '9007199254740993']);
    expect(calls.find((call) => call.route === 'POST /tasks')?.body).toEqual({
      name: 'add',
      args: ['1208925819614629174706176', 1, -5, '9007199254740993'],
    });
    expect(task.state).toBe('SUCCESS');
    expect(task.result).toBe((big + 1n - 5n + 9007199254740993n).toString());
  });

  it('sends a safe bigint as a JSON number', async () => {
    const { client, calls } = harness();
    await client().submit('mul', [BigInt(Number.MAX_SAFE_INTEGER), 1n]);
    expect(calls.find((call) => call.route === 'POST /tasks')?.body).toEqual({ name: 'mul', args: [Number.MAX_SAFE_INTEGER, 1] });
  });
});

describe('DoozerClient.run', () => {
  it('runs a task of any type with its args, and returns its result', async () => {
    const { client, calls } = harness();
    const { task, deferred } = await client().run('sleep', { ms: 20 });
    expect(deferred).toBe(false);
    expect(task).toMatchObject({ name: 'sleep', args: { ms: 20 }, state: 'SUCCESS', result: { slept: expect.any(Number) } });
    expect((task.result as { slept: number }).slept).toBeGreaterThanOrEqual(20);
    expect(calls.find((call) => call.route === 'POST /tasks')?.body).toEqual({ name: 'sleep', args: { ms: 20 } });
  });

  it('is typed by the task list it is given, and runs the same', async () => {
    const { client } = harness();
    const typed = client() as unknown as DoozerClient<typeof TASKS>;
    const { task } = await typed.run('primes', { below: 100 });
    expect(task.result).toEqual({ below: 100, count: 25 });
  });

  it('sends bigints anywhere in the args exactly, as for submit', async () => {
    const { client, calls } = harness();
    const { task } = await client().run('add', [2n ** 64n, 1n, 2]);
    expect(calls.find((call) => call.route === 'POST /tasks')?.body).toEqual({ name: 'add', args: ['18446744073709551616', 1, 2] });
    expect(task.result).toBe('18446744073709551619');
  });

  it('passes the wait on, and reports a deferred task', async () => {
    const { client, calls } = harness({ consumer: 'never' });
    const { task, deferred } = await client().run('sleep', { ms: 1 }, { wait: 0 });
    expect(deferred).toBe(true);
    expect(task.state).toBe('PENDING');
    expect(calls.at(-1)).toMatchObject({ route: 'POST /tasks', search: '?wait=0', status: 202 });
  });

  it.each<[string, string, unknown, string, string]>([
    ['args out of range', 'sleep', { ms: 120_001 }, 'invalid_request', 'args.ms must be at most 120000'],
    ['an unknown task', 'nope', {}, 'unknown_task', `unknown task "nope"; known tasks: ${catalog.names.join(', ')}`],
    ['no args', 'primes', undefined, 'invalid_request', 'args is required'],
  ])('throws DoozerApiError 400 naming the fault for %s', async (_case, name, args, code, message) => {
    const { client, store } = harness();
    const error = await apiError(client().run(name, args));
    expect(error).toMatchObject({ status: 400, code });
    expect(error.message).toContain(message);
    expect(store.tasks.size).toBe(0);
  });
});

describe('DoozerClient.taskTypes', () => {
  it('lists the task types with their schemas, without logging in', async () => {
    const { client, routes } = harness();
    const types = await client({ password: 'not-alice-password' }).taskTypes();
    expect(types.map((type) => type.name)).toEqual(catalog.names);
    expect(types.find((type) => type.name === 'sleep')).toMatchObject({
      timeoutSeconds: 120,
      retries: 0,
      args: { type: 'object', properties: { ms: { type: 'integer', minimum: 0, maximum: 120_000 } }, required: ['ms'] },
      result: { type: 'object' },
    });
    expect(routes()).toEqual(['GET /task-types 200']);
  });

  it('throws invalid_response for an answer without taskTypes', async () => {
    const doozer = new DoozerClient({ url: URL_BASE, username: 'alice', password: 'x', fetch: async () => Response.json({ types: [] }) });
    await expect(doozer.taskTypes()).rejects.toMatchObject({ code: 'invalid_response' });
  });
});

describe('DoozerClient.get', () => {
  it("returns the task as it is now: PENDING, then SUCCESS once the worker has run it", async () => {
    const { client, queue, worker } = harness({ consumer: 'never' });
    const doozer = client();
    const { task } = await doozer.submit('add', [1, 2], { wait: 0 });
    expect(await doozer.get(task.id)).toEqual(task);
    await worker.process(JSON.stringify(queue.sent[0]));
    expect(await doozer.get(task.id)).toMatchObject({ id: task.id, state: 'SUCCESS', result: 3 });
  });
});

describe('DoozerClient.waitFor', () => {
  it('returns the terminal task once a consumer finishes it during the wait', async () => {
    const { client } = harness({ consumer: 'on-lookup' });
    const doozer = client();
    const { task, deferred } = await doozer.submit('add', [40, 2], { wait: 0 });
    expect(deferred).toBe(true);
    const finished = await doozer.waitFor(task.id, { timeoutMs: 10_000 });
    expect(finished).toMatchObject({ id: task.id, state: 'SUCCESS', result: 42 });
  });

  it("reports the task's progress, polling as often as pollSeconds says", async () => {
    const { client, calls, store } = harness({ consumer: 'never' });
    const doozer = client();
    const { task } = await doozer.run('sleep', { ms: 3_000 }, { wait: 0 });
    const progress = { fraction: 0.5, done: 1_500, total: 3_000, message: '2 s to go', at: new Date().toISOString() };
    expect(await store.saveProgress(task.id, progress, { name: 'sleep', args: { ms: 3_000 } })).toBe(true);
    const seen: TaskView[] = [];
    const last = await doozer.waitFor(task.id, { timeoutMs: 2_500, pollSeconds: 1, onProgress: (view) => seen.push(view) });
    expect(last).toMatchObject({ state: 'PENDING', progress });
    expect(seen.length).toBeGreaterThanOrEqual(1);
    expect(seen.every((view) => view.progress?.message === '2 s to go')).toBe(true);
    const looks = calls.filter((call) => call.route === 'GET /tasks/:id').map((call) => call.search);
    expect(looks.length).toBeGreaterThanOrEqual(2);
    expect(looks.every((search) => search === '?wait=1' || search === '?wait=0')).toBe(true);
  });

  it('returns the task as last seen when the timeout passes, reporting progress on the way', async () => {
    const { client } = harness({ consumer: 'never' });
    const doozer = client();
    const { task } = await doozer.submit('add', [1], { wait: 0 });
    const seen: TaskView[] = [];
    const last = await doozer.waitFor(task.id, { timeoutMs: 600, onProgress: (view) => seen.push(view) });
    expect(last).toMatchObject({ id: task.id, state: 'PENDING' });
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((view) => view.id === task.id && view.state === 'PENDING')).toBe(true);
  });
});

describe('DoozerClient: tasks to run later', () => {
  it('returns at once with delaySeconds: deferred, PENDING with its runAt, queued with the delay', async () => {
    const { client, calls, queue } = harness();
    const before = Date.now();
    const { task, deferred } = await client().submit('add', [1, 2], { delaySeconds: 60 });
    expect(deferred).toBe(true);
    expect(task).toMatchObject({ state: 'PENDING', runAt: expect.any(String) });
    expect(Date.parse(task.runAt!) - before).toBeGreaterThanOrEqual(60_000);
    expect(Date.parse(task.runAt!) - Date.now()).toBeLessThanOrEqual(60_000);
    expect(calls.find((call) => call.route === 'POST /tasks')).toMatchObject({ status: 202, body: { name: 'add', args: [1, 2], delaySeconds: 60 } });
    expect(queue.delays.get(task.id)).toBe(60);
  });

  it('sends a runAt Date as its ISO time; beyond 15 minutes the task is SCHEDULED and not queued yet', async () => {
    const { client, calls, queue } = harness();
    const runAt = new Date(Date.now() + 3_600_000);
    const { task, deferred } = await client().run('sleep', { ms: 1 }, { runAt });
    expect(deferred).toBe(true);
    expect(task).toMatchObject({ name: 'sleep', state: 'SCHEDULED', runAt: runAt.toISOString() });
    expect(calls.find((call) => call.route === 'POST /tasks')?.body).toEqual({ name: 'sleep', args: { ms: 1 }, runAt: runAt.toISOString() });
    expect(queue.sent).toEqual([]);
  });

  it.each<[string, Parameters<DoozerClient['run']>[2], string]>([
    ['a runAt in the past', { runAt: '2020-01-01T00:00:00Z' }, 'runAt 2020-01-01T00:00:00Z is in the past'],
    ['a runAt beyond 7 days', { runAt: new Date(Date.now() + 8 * 86_400_000) }, 'tasks can run at most 7 days'],
    ['a delay beyond 7 days', { delaySeconds: 604_801 }, 'delaySeconds up to 604800'],
    ['both fields', { runAt: new Date(Date.now() + 60_000), delaySeconds: 60 } as never, 'give runAt or delaySeconds, not both'],
  ])('throws DoozerApiError 400 naming the limit for %s', async (_case, options, message) => {
    const { client, store } = harness();
    const error = await apiError(client().run('add', [1], options));
    expect(error).toMatchObject({ status: 400, code: 'invalid_request' });
    expect(error.message).toContain(message);
    expect(store.tasks.size).toBe(0);
  });
});

describe('DoozerClient.list and listPage', () => {
  /** `count` tasks of alice's, stored one millisecond apart (the oldest first), and one of bob's. */
  async function storedTasks(store: MemoryTaskStore, count: number) {
    const start = Date.now() - count - 1_000;
    const tasks = Array.from({ length: count }, (_, index) => {
      const at = new Date(start + index).toISOString();
      const state = index % 3 === 0 ? 'FAILURE' : 'SUCCESS';
      return pendingTask({ owner: 'alice', name: index % 2 === 0 ? 'add' : 'mul', state, createdAt: at, updatedAt: at });
    });
    for (const task of [...tasks, pendingTask({ owner: 'bob' })]) await store.create(task);
    return tasks.map((task) => task.id).reverse();
  }

  it('gives one page, newest first, with the cursor of the next', async () => {
    const { client, store, calls } = harness();
    const newestFirst = await storedTasks(store, 25);
    const doozer = client();
    const first = await doozer.listPage({ limit: 10 });
    expect(first.tasks.map((task) => task.id)).toEqual(newestFirst.slice(0, 10));
    expect(first.next).toEqual(expect.any(String));
    const second = await doozer.listPage({ limit: 10, cursor: first.next! });
    expect(second.tasks.map((task) => task.id)).toEqual(newestFirst.slice(10, 20));
    const last = await doozer.listPage({ limit: 10, cursor: second.next! });
    expect(last.tasks.map((task) => task.id)).toEqual(newestFirst.slice(20));
    expect(last.next).toBeNull();
    expect(calls.filter((call) => call.route === 'GET /tasks').map((call) => call.search)).toEqual([
      '?limit=10',
      `?limit=10&cursor=${encodeURIComponent(first.next!)}`,
      `?limit=10&cursor=${encodeURIComponent(second.next!)}`,
    ]);
  });

  it("lists every one of the caller's tasks across pages, each once, and none of another user's", async () => {
    const { client, store, calls } = harness();
    const newestFirst = await storedTasks(store, 25);
    const seen: string[] = [];
    for await (const task of client().list({ pageSize: 10 })) seen.push(task.id);
    expect(seen).toEqual(newestFirst);
    expect(calls.filter((call) => call.route === 'GET /tasks')).toHaveLength(3);
  });

  it('fetches a page only when the loop gets to it', async () => {
    const { client, store, calls } = harness();
    await storedTasks(store, 25);
    let seen = 0;
    for await (const _task of client().list({ pageSize: 10 })) if (++seen === 10) break;
    expect(calls.filter((call) => call.route === 'GET /tasks')).toHaveLength(1);
  });

  it('filters by state and task name', async () => {
    const { client, store, calls } = harness();
    await storedTasks(store, 25);
    const failedAdds: TaskView[] = [];
    for await (const task of client().list({ state: 'FAILURE', name: 'add', pageSize: 2 })) failedAdds.push(task);
    // Indexes 0, 6, 12, 18 and 24 are both FAILURE and add.
    expect(failedAdds).toHaveLength(5);
    expect(failedAdds.every((task) => task.state === 'FAILURE' && task.name === 'add')).toBe(true);
    expect(calls.find((call) => call.route === 'GET /tasks')?.search).toBe('?state=FAILURE&name=add&limit=2');
  });

  it('asks for the API default page without options, and yields nothing when there are no tasks', async () => {
    const { client, calls } = harness();
    const seen: TaskView[] = [];
    for await (const task of client().list()) seen.push(task);
    expect(seen).toEqual([]);
    expect(calls.filter((call) => call.route === 'GET /tasks').map((call) => call.search)).toEqual(['']);
  });

  it.each<[string, Parameters<DoozerClient['listPage']>[0]]>([
    ['an altered cursor', { cursor: 'WyIyMDI2LTAxLTAxVDAwOjAwOjAwLjAwMFoiLCJ0YXNrX3giXQ.c2lnbmF0dXJl' }],
    ['a page of 101', { limit: 101 }],
    ['an unknown state', { state: 'DONE' as never }],
  ])('throws DoozerApiError 400 for %s', async (_case, options) => {
    const { client } = harness();
    expect(await apiError(client().listPage(options))).toMatchObject({ status: 400, code: 'invalid_request' });
  });

  it("refuses another user's cursor", async () => {
    const { client, store } = harness();
    await store.create(pendingTask({ owner: 'bob' }));
    await store.create(pendingTask({ owner: 'bob' }));
    const bobs = await client({ username: 'bob', password: 'bob-password' }).listPage({ limit: 1 });
    expect(bobs.next).toEqual(expect.any(String));
    const error = await apiError(client().listPage({ cursor: bobs.next! }));
    expect(error).toMatchObject({ status: 400, code: 'invalid_request' });
  });
});

describe('DoozerClient.cancel', () => {
  it('cancels a PENDING task, and answers the same when it is cancelled again', async () => {
    const { client, store, routes } = harness({ consumer: 'never' });
    const doozer = client();
    const { task } = await doozer.submit('add', [1], { wait: 0 });
    const cancelled = await doozer.cancel(task.id);
    expect(cancelled).toMatchObject({ id: task.id, state: 'CANCELLED' });
    expect(await doozer.cancel(task.id)).toMatchObject({ id: task.id, state: 'CANCELLED' });
    expect(store.tasks.get(task.id)?.state).toBe('CANCELLED');
    expect(routes().slice(-2)).toEqual(['POST /tasks/:id/cancel 200', 'POST /tasks/:id/cancel 200']);
  });

  it('cancels a SCHEDULED task', async () => {
    const { client } = harness();
    const doozer = client();
    const { task } = await doozer.run('sleep', { ms: 1 }, { delaySeconds: 3_600 });
    expect(task.state).toBe('SCHEDULED');
    expect(await doozer.cancel(task.id)).toMatchObject({ state: 'CANCELLED', runAt: task.runAt });
  });

  it('throws DoozerTaskEndedError with the state a task ended in', async () => {
    const { client } = harness();
    const doozer = client();
    const { task } = await doozer.submit('add', [1, 2]);
    expect(task.state).toBe('SUCCESS');
    const error = await apiError(doozer.cancel(task.id));
    expect(error).toBeInstanceOf(DoozerTaskEndedError);
    expect(error).toMatchObject({ status: 409, code: 'task_ended', state: 'SUCCESS', name: 'DoozerTaskEndedError' });
  });

  it("throws DoozerApiError 404 task_not_found for an unknown id and for another user's task", async () => {
    const { client } = harness({ consumer: 'never' });
    const { task } = await client().submit('add', [1], { wait: 0 });
    expect(await apiError(client().cancel('task_8c5a3b1e-2f4d-4a6b-9c8d-0e1f2a3b4c5d'))).toMatchObject({ status: 404, code: 'task_not_found' });
    expect(await apiError(client({ username: 'bob', password: 'bob-password' }).cancel(task.id))).toMatchObject({
      status: 404,
      code: 'task_not_found',
    });
  });
});

describe('DoozerClient.submitBatch', () => {
  it('answers one result per item, in order: the task, or why the item was refused', async () => {
    const { client, queue, calls } = harness({ consumer: 'never' });
    const { results, replayed } = await client().submitBatch([
      { name: 'add', args: [1, 2] },
      { name: 'mul', args: [2, 'x'] },
      { name: 'nope', args: [] },
      { name: 'sleep', args: { ms: 5 }, delaySeconds: 1_200 },
      { name: 'add', args: [3n ** 40n] },
    ]);
    expect(replayed).toBe(false);
    expect(results).toHaveLength(5);
    expect(results[0]).toMatchObject({ task: { name: 'add', args: [1, 2], state: 'PENDING' } });
    expect(results[1]).toMatchObject({ error: { code: 'invalid_request', message: expect.stringContaining('args[1]') } });
    expect(results[2]).toMatchObject({ error: { code: 'unknown_task', message: expect.stringContaining('unknown task "nope"') } });
    expect(results[3]).toMatchObject({ task: { name: 'sleep', state: 'SCHEDULED', runAt: expect.any(String) } });
    expect(results[4]).toMatchObject({ task: { args: ['12157665459056928801'] } });
    // Never waited for: the items went as given, bigints exactly.
    expect(calls.find((call) => call.route === 'POST /tasks/batch')).toMatchObject({
      status: 200,
      body: { tasks: [{ name: 'add', args: [1, 2] }, {}, {}, { delaySeconds: 1_200 }, { args: ['12157665459056928801'] }] },
    });
    expect(queue.sent.map((message) => message.taskId)).toEqual([results[0]!.task!.id, results[4]!.task!.id]);
  });

  it('narrows each result by task or error', async () => {
    const { client } = harness();
    const { results } = await client().submitBatch([{ name: 'add', args: [1] }]);
    const [first] = results;
    if (first?.task) expect(first.task.id).toMatch(TASK_ID);
    else throw new Error(`expected a task, got ${JSON.stringify(first)}`);
  });

  it('creates the tasks once for an Idempotency-Key, and replays them on a repeat', async () => {
    const { client, store } = harness({ consumer: 'never' });
    const items = [
      { name: 'add', args: [1] },
      { name: 'add', args: [2] },
    ];
    const first = await client().submitBatch(items, { idempotencyKey: 'batch-42' });
    const again = await client().submitBatch(items, { idempotencyKey: 'batch-42' });
    expect(again.replayed).toBe(true);
    expect(again.results.map((result) => result.task?.id)).toEqual(first.results.map((result) => result.task?.id));
    expect(store.tasks.size).toBe(2);
    const reused = await apiError(client().submitBatch([{ name: 'add', args: [3] }], { idempotencyKey: 'batch-42' }));
    expect(reused).toMatchObject({ status: 422, code: 'idempotency_key_reused' });
  });

  it('throws DoozerApiError 400 naming the limit for more than 100 items, creating none', async () => {
    const { client, store } = harness();
    const items = Array.from({ length: 101 }, (_, index) => ({ name: 'add', args: [index] }));
    const error = await apiError(client().submitBatch(items));
    expect(error).toMatchObject({ status: 400, code: 'invalid_request' });
    expect(error.message).toContain('at most 100');
    expect(store.tasks.size).toBe(0);
  });

  it('throws DoozerApiError 503 when no item could be recorded', async () => {
    const { client, store } = harness();
    store.failNext('createMany');
    expect(await apiError(client().submitBatch([{ name: 'add', args: [1] }]))).toMatchObject({ status: 503, code: 'unavailable' });
  });

  it('reports an item that could not be recorded as unavailable, accepting the others', async () => {
    const ids = ['task_00000000-0000-4000-8000-000000000001', 'task_00000000-0000-4000-8000-000000000002'];
    const { client, store } = harness({ consumer: 'never', ids });
    store.refuseInBatch.add(ids[1]!);
    const { results } = await client().submitBatch([
      { name: 'add', args: [1] },
      { name: 'add', args: [2] },
    ]);
    expect(results[0]).toMatchObject({ task: { id: ids[0], state: 'PENDING' } });
    expect(results[1]).toEqual({ error: { code: 'unavailable', message: 'the task could not be recorded or queued; submit it again' } });
  });

  it('throws invalid_response when the answer does not hold one result per item', async () => {
    const doozer = new DoozerClient({
      url: URL_BASE,
      username: 'alice',
      password: 'x',
      tokenCache: new SeededTokenCache({ token: 't', expiresAt: Date.now() + 3_600_000 }),
      fetch: async () => Response.json({ results: [] }),
    });
    await expect(doozer.submitBatch([{ name: 'add', args: [1] }])).rejects.toMatchObject({ code: 'invalid_response' });
  });
});

describe('DoozerClient tokens', () => {
  it('asks for a token once and reuses it from the cache for later calls, and for later clients', async () => {
    const { client, calls } = harness();
    const doozer = client();
    const { task } = await doozer.submit('add', [1]);
    await doozer.get(task.id);
    await doozer.get(task.id);
    // A second client over the same cache, as a second CLI run over the same file.
    const again = client();
    await again.get(task.id);
    expect(calls.filter((call) => call.route === 'POST /auth/token')).toHaveLength(1);
    expect(calls.filter((call) => call.route === 'GET /tasks/:id')).toHaveLength(3);
    expect((await again.token()).token).toBe((await doozer.token()).token);
    expect(calls).toHaveLength(5);
  });

  it('keeps tokens of different users apart', async () => {
    const { client, calls } = harness();
    await client().token();
    await client({ username: 'bob', password: 'bob-password' }).token();
    await client({ username: 'bob', password: 'bob-password' }).token();
    expect(calls.map((call) => call.route)).toEqual(['POST /auth/token', 'POST /auth/token']);
  });

  it('does not lend a cached token to other credentials: a mistyped password still fails', async () => {
    const { client, routes } = harness();
    await client().token();
    const error = await apiError(client({ password: 'alice-passwort' }).token());
    expect(error).toMatchObject({ status: 401, code: 'unauthorized' });
    expect(routes()).toEqual(['POST /auth/token 200', 'POST /auth/token 401']);
  });

  it('renews a refused cached token once, retries the call and caches the new token', async () => {
    const { client, routes } = harness();
    const cache = new SeededTokenCache({ token: (await foreignTokens.issue('alice')).token, expiresAt: Date.now() + 3_600_000 });
    const { task } = await client({ tokenCache: cache }).submit('add', [2, 3]);
    expect(task).toMatchObject({ state: 'SUCCESS', result: 5 });
    await client({ tokenCache: cache }).get(task.id);
    expect(routes()).toEqual([
      'POST /tasks 401',
      'POST /auth/token 200',
      'POST /tasks 200',
      'GET /tasks/:id 200',
    ]);
  });

  it('gives up after one renewal when the login fails too, with the 401', async () => {
    const { client, routes } = harness();
    const cache = new SeededTokenCache({ token: (await foreignTokens.issue('alice')).token, expiresAt: Date.now() + 3_600_000 });
    const error = await apiError(client({ tokenCache: cache, password: 'wrong' }).submit('add', [1]));
    expect(error).toMatchObject({ status: 401, code: 'unauthorized' });
    expect(routes()).toEqual(['POST /tasks 401', 'POST /auth/token 401']);
  });

  it('fetches a new token when the cached one is about to expire', async () => {
    const { client, routes } = harness();
    const cache = new SeededTokenCache({ token: (await tokens.issue('alice')).token, expiresAt: Date.now() + 30_000 });
    await client({ tokenCache: cache }).token();
    expect(routes()).toEqual(['POST /auth/token 200']);
  });
});

describe('DoozerClient errors', () => {
  it('throws DoozerApiError 401 unauthorized for a wrong password, without retrying the login', async () => {
    const { client, routes } = harness();
    const error = await apiError(client({ password: 'not-alice-password' }).submit('add', [1]));
    expect(error).toMatchObject({ status: 401, code: 'unauthorized', name: 'DoozerApiError' });
    expect(routes()).toEqual(['POST /auth/token 401']);
  });

  it('throws DoozerApiError 401 for an unknown user', async () => {
    const { client } = harness();
    expect(await apiError(client({ username: 'mallory' }).token())).toMatchObject({ status: 401, code: 'unauthorized' });
  });

  it('throws DoozerApiError 404 task_not_found for an unknown id', async () => {
    const { client } = harness();
    const id = 'task_8c5a3b1e-2f4d-4a6b-9c8d-0e1f2a3b4c5d';
    const error = await apiError(client().get(id));
    expect(error).toMatchObject({ status: 404, code: 'task_not_found' });
    expect(error.message).toContain(id);
  });

  it("throws DoozerApiError 404 task_not_found for another user's task", async () => {
    const { client } = harness();
    const { task } = await client().submit('add', [1]);
    const error = await apiError(client({ username: 'bob', password: 'bob-password' }).get(task.id));
    expect(error).toMatchObject({ status: 404, code: 'task_not_found' });
  });

  it.each<[string, (client: DoozerClient) => Promise<unknown>]>([
    ['no arguments', (client) => client.submit('add', [])],
    ['a result that would be too large', (client) => client.submit('mul', ['9'.repeat(1_000), ...Array.from({ length: 11 }, () => '9'.repeat(1_000))])],
    ['a malformed task id', (client) => client.get('task_not-a-uuid')],
    ['a wait beyond 5 seconds', (client) => client.get('task_8c5a3b1e-2f4d-4a6b-9c8d-0e1f2a3b4c5d', { wait: 6 })],
  ])('throws DoozerApiError 400 invalid_request for %s', async (_case, call) => {
    const { client, store } = harness();
    const error = await apiError(call(client()));
    expect(error).toMatchObject({ status: 400, code: 'invalid_request' });
    expect(error.message).not.toBe('');
    expect(store.tasks.size).toBe(0);
  });

  it('throws DoozerApiError 503 unavailable when the store is down', async () => {
    const { client, store } = harness();
    store.failNext('create');
    expect(await apiError(client().submit('add', [1]))).toMatchObject({ status: 503, code: 'unavailable' });
  });

  it("throws DoozerConnectionError (code 'unreachable') naming the URL when fetch rejects", async () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });
    const failure = new TypeError('fetch failed', { cause: refused });
    const doozer = new DoozerClient({
      url: 'http://127.0.0.1:9/',
      username: 'alice',
      password: 'alice-password',
      fetch: async () => {
        throw failure;
      },
    });
    const error = await doozer.token().then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(DoozerConnectionError);
    expect(error).toMatchObject({ code: 'unreachable', url: 'http://127.0.0.1:9', cause: failure });
    expect((error as Error).message).toBe('nothing answers at http://127.0.0.1:9 (connection refused)');
  });

  it('throws DoozerConnectionError too when the answer is cut off while its body is read', async () => {
    const cutOff = new TypeError('terminated');
    const doozer = new DoozerClient({
      url: 'http://127.0.0.1:9/',
      username: 'alice',
      password: 'alice-password',
      fetch: async () =>
        new Response(
          new ReadableStream({
            pull: (controller) => controller.error(cutOff),
          }),
          { status: 200, headers: { 'content-type': 'application/json' } },
        ),
    });
    const error = await doozer.token().then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(DoozerConnectionError);
    expect(error).toMatchObject({ code: 'unreachable', cause: cutOff });
  });
});
