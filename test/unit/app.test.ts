import { describe, expect, it, vi } from 'vitest';
import { TokenIssuer } from '../../lib/auth/tokens.ts';
import { UnavailableError } from '../../lib/errors.ts';
import { MAX_BODY_BYTES } from '../../lib/http/json-limits.ts';
import type { Task, TaskView } from '../../lib/tasks/task.ts';
import { TEST_TASK_TTL_SECONDS, createTestApp } from '../support/app-harness.ts';
import { catalog } from '../support/catalog.ts';

const TASK_TTL_SECONDS = TEST_TASK_TTL_SECONDS;
const TASK_ID = /^task_[0-9a-f-]{36}$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/**
 * The app over in-memory adapters (test/support/app-harness.ts), alice and bob its users. With
 * `worker: true` every queued message is processed at once (a task finishes during the wait);
 * without it nothing consumes the queue (the task is deferred).
 */
function harness({ worker = true } = {}) {
  const h = createTestApp({ worker });
  /** POSTs a JSON task request as alice. */
  const submit = (body: unknown, query = '', headers: Record<string, string> = {}) => h.post(`/tasks${query}`, body, { headers });
  return { ...h, submit };
}

type Harness = ReturnType<typeof harness>;

async function errorBody(response: Response): Promise<{ code: string; message: string }> {
  const body = (await response.json()) as { error: { code: string; message: string } };
  expect(Object.keys(body)).toEqual(['error']);
  expect(Object.keys(body.error).sort()).toEqual(['code', 'message']);
  expect(typeof body.error.message).toBe('string');
  expect(body.error.message).not.toBe('');
  return body.error;
}

const json = (body: unknown): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

describe('GET /health', () => {
  it('answers 200 {status: "ok"} without a token', async () => {
    const response = await harness().app.request('/health');
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
  });
});

describe('GET /ready', () => {
  const probe = (name: string, check: () => Promise<void>) => ({ name, check });
  const appWith = (readiness: { name: string; check(): Promise<void> }[]) => createTestApp({ readiness }).app;

  it('answers 200 {status: "ready"} without a token when every probe answers', async () => {
    const checked: string[] = [];
    const app = appWith([probe('store', async () => void checked.push('store')), probe('queue', async () => void checked.push('queue'))]);
    const response = await app.request('/ready');
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ready' });
    expect(checked.sort()).toEqual(['queue', 'store']);
  });

  it('answers 503 unavailable with Retry-After, naming the parts that did not answer', async () => {
    const down = async () => {
      throw new Error('connect ECONNREFUSED');
    };
    const app = appWith([probe('store', async () => {}), probe('queue', down)]);
    const response = await app.request('/ready');
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('1');
    const error = await errorBody(response);
    expect(error.code).toBe('unavailable');
    expect(error.message).toBe('not ready: the queue did not answer');
    expect(error.message).not.toContain('ECONNREFUSED');
  });
});

describe('POST /auth/token', () => {
  it('issues a bearer token for the right password', async () => {
    const { app, tokens } = harness();
    const response = await app.request('/auth/token', json({ username: 'alice', password: 'alice-password' }));
    expect(response.status).toBe(200);
    const body = (await response.json()) as { token: string; tokenType: string; expiresIn: number };
    expect(body).toEqual({ token: expect.any(String), tokenType: 'Bearer', expiresIn: 3600 });
    await expect(tokens.verify(body.token)).resolves.toBe('alice');
  });

  it('issues a token that the task routes accept', async () => {
    const { app } = harness();
    const { token } = (await (
      await app.request('/auth/token', json({ username: 'bob', password: 'bob-password' }))
    ).json()) as { token: string };
    const response = await app.request('/tasks', {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'add', args: [1] }),
    });
    expect(response.status).toBe(200);
  });

  it('answers 401 unauthorized for a wrong password', async () => {
    const response = await harness().app.request('/auth/token', json({ username: 'alice', password: 'bob-password' }));
    expect(response.status).toBe(401);
    expect((await errorBody(response)).code).toBe('unauthorized');
  });

  it('answers 401 unauthorized, the same body as a wrong password, for an unknown user', async () => {
    const { app } = harness();
    const unknown = await app.request('/auth/token', json({ username: 'mallory', password: 'alice-password' }));
    const wrong = await app.request('/auth/token', json({ username: 'alice', password: 'nope' }));
    expect(unknown.status).toBe(401);
    expect(await errorBody(unknown)).toEqual(await errorBody(wrong));
  });

  it.each([
    ['a missing password', { username: 'alice' }],
    ['an empty username', { username: '', password: 'x' }],
    ['a numeric password', { username: 'alice', password: 123 }],
    ['an unknown extra field', { username: 'alice', password: 'alice-password', admin: true }],
  ])('answers 400 invalid_request for %s', async (_label, body) => {
    const response = await harness().app.request('/auth/token', json(body));
    expect(response.status).toBe(400);
    expect((await errorBody(response)).code).toBe('invalid_request');
  });
});

describe('authentication of /tasks', () => {
  const routes: [string, RequestInit][] = [
    ['/tasks', json({ name: 'add', args: [1] })],
    ['/tasks/task_00000000-0000-4000-8000-000000000000', { method: 'GET' }],
  ];

  it.each(routes)('answers 401 with a Bearer challenge when %s has no token', async (path, init) => {
    const { app, queue } = harness();
    const response = await app.request(path, init);
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer realm="doozer"/);
    expect(response.headers.get('www-authenticate')).not.toContain('invalid_token');
    expect((await errorBody(response)).code).toBe('unauthorized');
    expect(queue.sent).toEqual([]);
  });

  it.each(routes)('answers 401 with error="invalid_token" when %s has a bad token', async (path, init) => {
    const { app, queue } = harness();
    const response = await app.request(path, {
      ...init,
      headers: { ...(init.headers as Record<string, string>), authorization: 'Bearer not-a-token' },
    });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toContain('error="invalid_token"');
    expect((await errorBody(response)).code).toBe('unauthorized');
    expect(queue.sent).toEqual([]);
  });

  it('refuses a token signed with another secret', async () => {
    const other = new TokenIssuer({ secret: 'x'.repeat(40), issuer: 'doozer', audience: 'doozer-api', ttlSeconds: 60 });
    const response = await harness().request('/tasks/task_00000000-0000-4000-8000-000000000000', {
      headers: { authorization: `Bearer ${(await other.issue('alice')).token}` },
    });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toContain('error="invalid_token"');
  });

  it.each(['Basic YWxpY2U6YWxpY2UtcGFzc3dvcmQ=', 'Bearer', 'Bearer two tokens', 'token'])(
    'answers 401 with a Bearer challenge for the Authorization header %j',
    async (authorization) => {
      const response = await harness().request('/tasks', {
        ...json({ name: 'add', args: [1] }),
        headers: { authorization, 'content-type': 'application/json' },
      });
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toMatch(/^Bearer /);
    },
  );

  it('accepts the scheme name in any case', async () => {
    const h = harness();
    const token = await h.tokenFor('alice');
    const response = await h.request('/tasks', {
      ...json({ name: 'add', args: [1] }),
      headers: { authorization: `bearer ${token}`, 'content-type': 'application/json' },
    });
    expect(response.status).toBe(200);
  });
});

describe('POST /tasks', () => {
  it('answers 200 with the finished task when it ends within the wait', async () => {
    const { submit } = harness();
    const response = await submit({ name: 'add', args: [1, 2, 3, 4, 5, 6] });
    expect(response.status).toBe(200);
    expect(response.headers.get('location')).toBeNull();
    expect(response.headers.get('retry-after')).toBeNull();
    const view = (await response.json()) as TaskView;
    expect(view).toEqual({
      id: expect.stringMatching(TASK_ID),
      name: 'add',
      args: [1, 2, 3, 4, 5, 6],
      state: 'SUCCESS',
      result: 21,
      createdAt: expect.stringMatching(ISO_DATE),
      updatedAt: expect.stringMatching(ISO_DATE),
      expiresAt: expect.stringMatching(ISO_DATE),
    });
    expect(Date.parse(view.expiresAt) - Date.parse(view.createdAt)).toBe(TASK_TTL_SECONDS * 1000);
  });

  it('returns results and arguments beyond 2^53 as decimal strings, exactly', async () => {
    const { submit } = harness();
    const response = await submit({ name: 'mul', args: ['9007199254740993', 3] });
    expect(response.status).toBe(200);
    const view = (await response.json()) as TaskView;
    expect(view.args).toEqual(['9007199254740993', 3]);
    expect(view.result).toBe('27021597764222979');
  });

  it('keeps results in the safe range as JSON numbers even when the arguments were strings', async () => {
    const response = await harness().submit({ name: 'mul', args: ['-6', '7'] });
    const view = (await response.json()) as TaskView;
    expect(view.args).toEqual([-6, 7]);
    expect(view.result).toBe(-42);
  });

  it('queues the task for the submitting user with its args in canonical form', async () => {
    const { submit, queue, store } = harness();
    const view = (await (await submit({ name: 'add', args: [1, '02', '123456789012345678901'] })).json()) as TaskView;
    expect(queue.sent).toEqual([{ taskId: view.id, name: 'add', args: [1, 2, '123456789012345678901'] }]);
    expect(store.tasks.get(view.id)?.owner).toBe('alice');
  });

  it('answers 200 with the error code when the task ends in FAILURE during the wait', async () => {
    // The API rejects bad input before storing, so let the "worker" record a failure mid-wait.
    const { submit, store, clock } = harness({ worker: false });
    clock.onSleep = async () => {
      for (const task of store.tasks.values()) {
        await store.transition(task.id, {
          from: ['PENDING'],
          to: 'FAILURE',
          at: new Date(clock.now()).toISOString(),
          error: { code: 'retries_exhausted', message: 'gave up' },
        });
      }
    };
    const response = await submit({ name: 'add', args: [1] });
    expect(response.status).toBe(200);
    const view = (await response.json()) as TaskView;
    expect(view.state).toBe('FAILURE');
    expect(view.error?.code).toBe('retries_exhausted');
    expect(view.result).toBeUndefined();
  });

  it('returns 202 with a Location header when the task outlives the wait', async () => {
    const { submit, store, clock } = harness({ worker: false });
    const started = clock.now();
    const response = await submit({ name: 'add', args: [1, 2] });
    expect(response.status).toBe(202);
    const view = (await response.json()) as TaskView;
    expect(view.state).toBe('PENDING');
    expect(response.headers.get('location')).toBe(`/tasks/${view.id}`);
    expect(response.headers.get('retry-after')).toBe('1');
    expect(store.tasks.get(view.id)?.state).toBe('PENDING');
    // The default wait is the maximum, 5 s, and is not exceeded.
    expect(clock.now() - started).toBe(5_000);
  });

  it('answers 202 at once with ?wait=0', async () => {
    const { submit, clock } = harness({ worker: false });
    const started = clock.now();
    const response = await submit({ name: 'add', args: [1, 2] }, '?wait=0');
    expect(response.status).toBe(202);
    const view = (await response.json()) as TaskView;
    expect(view.state).toBe('PENDING');
    expect(response.headers.get('location')).toBe(`/tasks/${view.id}`);
    expect(response.headers.get('retry-after')).toBe('1');
    expect(response.headers.get('preference-applied')).toBeNull();
    expect(clock.now()).toBe(started);
  });

  it('answers 202 with Preference-Applied for Prefer: respond-async', async () => {
    const { submit } = harness({ worker: false });
    const response = await submit({ name: 'add', args: [1] }, '', { prefer: 'respond-async' });
    expect(response.status).toBe(202);
    expect(response.headers.get('preference-applied')).toBe('respond-async');
    expect(response.headers.get('location')).toMatch(/^\/tasks\/task_/);
  });

  it('caps Prefer: wait=N at the maximum and says so in Preference-Applied', async () => {
    const { submit, clock } = harness({ worker: false });
    const started = clock.now();
    const response = await submit({ name: 'add', args: [1] }, '', { prefer: 'respond-async, wait=60' });
    expect(response.status).toBe(202);
    expect(response.headers.get('preference-applied')).toBe('wait=5');
    expect(clock.now() - started).toBe(5_000);
  });

  it('lets ?wait= win over a Prefer header', async () => {
    const { submit, clock } = harness({ worker: false });
    const started = clock.now();
    const response = await submit({ name: 'add', args: [1] }, '?wait=1', { prefer: 'wait=3' });
    expect(response.status).toBe(202);
    expect(response.headers.get('preference-applied')).toBeNull();
    expect(clock.now() - started).toBe(1_000);
  });

  it.each(['9', 'abc', '-1', '', '5.5', '1e3'])('answers 400 invalid_request for ?wait=%s', async (wait) => {
    const { submit, queue, store } = harness();
    const response = await submit({ name: 'add', args: [1] }, `?wait=${wait}`);
    expect(response.status).toBe(400);
    expect((await errorBody(response)).code).toBe('invalid_request');
    expect(queue.sent).toEqual([]);
    expect(store.tasks.size).toBe(0);
  });

  const tooManyArgs = Array.from({ length: 1001 }, () => 1);
  it.each<[string, string, number]>([
    ['malformed JSON', '{"name": "add", "args": [1,', 400],
    ['an empty body', '', 400],
    ['a JSON array body', '[{"name":"add","args":[1]}]', 400],
    ['a JSON null body', 'null', 400],
    ['a missing name', JSON.stringify({ args: [1] }), 400],
    ['a numeric name', JSON.stringify({ name: 1, args: [1] }), 400],
    ['missing args', JSON.stringify({ name: 'add' }), 400],
    ['args that are not an array', JSON.stringify({ name: 'add', args: '1,2' }), 400],
    ['empty args', JSON.stringify({ name: 'add', args: [] }), 400],
    ['a float argument', JSON.stringify({ name: 'add', args: [1, 1.5] }), 400],
    ['an integer beyond the safe range sent as a JSON number', '{"name":"add","args":[9007199254740993]}', 400],
    ['a non-decimal string argument', JSON.stringify({ name: 'add', args: ['0x10'] }), 400],
    ['a null argument', JSON.stringify({ name: 'add', args: [null] }), 400],
    ['1001 arguments', JSON.stringify({ name: 'add', args: tooManyArgs }), 400],
    ['a product that would be too large', JSON.stringify({ name: 'mul', args: Array.from({ length: 11 }, () => '9'.repeat(1000)) }), 400],
    ['an unknown extra field', JSON.stringify({ name: 'add', args: [1], priority: 'high' }), 400],
  ])('answers %s with a 4xx invalid_request and stores nothing', async (_label, body, status) => {
    const { submit, queue, store } = harness();
    const response = await submit(body);
    expect(response.status).toBe(status);
    expect((await errorBody(response)).code).toBe('invalid_request');
    expect(queue.sent).toEqual([]);
    expect(store.tasks.size).toBe(0);
  });

  it('answers an unknown task name with 400 unknown_task naming the known tasks, and stores nothing', async () => {
    const { submit, queue, store } = harness();
    const response = await submit(JSON.stringify({ name: 'pow', args: [2, 3] }));
    expect(response.status).toBe(400);
    expect(await errorBody(response)).toEqual({ code: 'unknown_task', message: `unknown task "pow"; known tasks: ${catalog.names.join(', ')}` });
    expect(queue.sent).toEqual([]);
    expect(store.tasks.size).toBe(0);
  });

  it('names the offending argument in the message', async () => {
    const response = await harness().submit({ name: 'add', args: [1, 2, 'abc'] });
    expect((await errorBody(response)).message).toContain('args[2]');
  });

  it.each<[string, Record<string, string>]>([
    ['no Content-Type', {}],
    ['Content-Type: text/plain', { 'content-type': 'text/plain' }],
    ['Content-Type: application/x-www-form-urlencoded', { 'content-type': 'application/x-www-form-urlencoded' }],
  ])('answers 415 invalid_request for a body with %s', async (_label, headers) => {
    const { request, queue } = harness();
    const response = await request('/tasks', {
      method: 'POST',
      headers,
      // Bytes, not a string: a string body would get text/plain from the Request constructor.
      body: new TextEncoder().encode(JSON.stringify({ name: 'add', args: [1] })),
    });
    expect(response.status).toBe(415);
    expect((await errorBody(response)).code).toBe('invalid_request');
    expect(queue.sent).toEqual([]);
  });

  it('accepts a JSON media type with parameters or a +json suffix', async () => {
    const { submit } = harness();
    for (const type of ['application/json; charset=utf-8', 'application/vnd.doozer+json']) {
      const response = await submit({ name: 'add', args: [1] }, '', { 'content-type': type });
      expect(response.status).toBe(200);
    }
  });

  it('answers 413 payload_too_large for a body over 64 KiB', async () => {
    const { submit, queue, store } = harness();
    const body = JSON.stringify({ name: 'add', args: ['1'.repeat(MAX_BODY_BYTES)] });
    const response = await submit(body);
    expect(response.status).toBe(413);
    expect((await errorBody(response)).code).toBe('payload_too_large');
    expect(queue.sent).toEqual([]);
    expect(store.tasks.size).toBe(0);
  });

  it('answers 413 when a Content-Length header announces too large a body', async () => {
    const { request } = harness();
    const body = JSON.stringify({ name: 'add', args: ['1'.repeat(MAX_BODY_BYTES)] });
    const response = await request('/tasks', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': String(body.length) },
      body,
    });
    expect(response.status).toBe(413);
    expect((await errorBody(response)).code).toBe('payload_too_large');
  });

  it('checks the token before the body size: an oversized anonymous body gets 401', async () => {
    const { app } = harness();
    const response = await app.request('/tasks', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'add', args: ['1'.repeat(MAX_BODY_BYTES)] }),
    });
    expect(response.status).toBe(401);
    expect((await errorBody(response)).code).toBe('unauthorized');
  });

  it('answers 503 unavailable on a queue outage and marks the stored task FAILURE enqueue_failed', async () => {
    const { submit, queue, store } = harness();
    queue.failing = true;
    const response = await submit({ name: 'add', args: [1, 2] });
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('1');
    const error = await errorBody(response);
    expect(error.code).toBe('unavailable');
    expect(error.message).not.toContain('simulated');
    const [stored] = [...store.tasks.values()];
    expect(store.tasks.size).toBe(1);
    expect(stored?.state).toBe('FAILURE');
    expect(stored?.error?.code).toBe('enqueue_failed');
  });

  it('answers 503 unavailable on a store outage at create; the message sent beside it finds no task, so nothing runs that is kept', async () => {
    const { submit, queue, store } = harness();
    store.failNext('create');
    const response = await submit({ name: 'add', args: [1, 2] });
    expect(response.status).toBe(503);
    expect((await errorBody(response)).code).toBe('unavailable');
    // Recorded and queued at once: the message went out, and no record exists for it.
    expect(queue.sent).toHaveLength(1);
    // The worker waits for the record, then hands the message back (SQS would redeliver it); nothing is written.
    await vi.waitFor(() => expect(queue.failures).toEqual([expect.objectContaining({ name: 'TaskNotRecordedError' })]), { timeout: 5_000 });
    expect(store.tasks.size).toBe(0);
  });

  it('answers with the task, not 503, when a send that failed was delivered and a worker has started it', async () => {
    const { submit, queue, store } = harness({ worker: false });
    // The send reports a failure, yet its message got through: a worker starts the task at once.
    queue.send = async (message) => {
      await store.markStarted(message.taskId, new Date().toISOString(), message);
      throw new UnavailableError('the send timed out');
    };
    const response = await submit({ name: 'add', args: [1, 2] }, '?wait=0');
    expect(response.status).toBe(202);
    const [recorded] = [...store.tasks.values()];
    expect(recorded).toMatchObject({ state: 'PENDING', startedAt: expect.any(String) });
  });

  it('answers 202 with the task id when the store fails during the wait: the task is accepted, not lost', async () => {
    const { submit, queue, store } = harness({ worker: false });
    store.failNext('get', 1_000);
    const response = await submit({ name: 'add', args: [1, 2] });
    expect(response.status).toBe(202);
    const view = (await response.json()) as TaskView;
    expect(view.id).toMatch(TASK_ID);
    expect(view.state).toBe('PENDING');
    expect(response.headers.get('location')).toBe(`/tasks/${view.id}`);
    expect(queue.sent.map((message) => message.taskId)).toEqual([view.id]);
    expect(store.tasks.has(view.id)).toBe(true);
  });
});

describe('GET /tasks/:id', () => {
  async function deferredTask(h: Harness, body: unknown = { name: 'add', args: [20, 22] }): Promise<TaskView> {
    const response = await h.submit(body, '?wait=0');
    expect(response.status).toBe(202);
    return (await response.json()) as TaskView;
  }

  it("answers 200 with the caller's pending task and a Retry-After header", async () => {
    const h = harness({ worker: false });
    const submitted = await deferredTask(h);
    const response = await h.request(`/tasks/${submitted.id}`);
    expect(response.status).toBe(200);
    expect(response.headers.get('retry-after')).toBe('1');
    expect(await response.json()).toEqual(submitted);
  });

  it("answers 200 with the caller's finished task and no Retry-After", async () => {
    const h = harness({ worker: false });
    const submitted = await deferredTask(h);
    await h.worker.process(JSON.stringify(h.queue.sent[0]));
    const response = await h.request(`/tasks/${submitted.id}`);
    expect(response.status).toBe(200);
    expect(response.headers.get('retry-after')).toBeNull();
    const view = (await response.json()) as TaskView;
    expect(view).toMatchObject({ id: submitted.id, state: 'SUCCESS', result: 42, createdAt: submitted.createdAt });
  });

  it('waits for the task to end when asked with ?wait=', async () => {
    const h = harness({ worker: false });
    const submitted = await deferredTask(h);
    h.clock.onSleep = () => h.worker.process(JSON.stringify(h.queue.sent[0]));
    const response = await h.request(`/tasks/${submitted.id}?wait=2`);
    expect(response.status).toBe(200);
    expect(((await response.json()) as TaskView).state).toBe('SUCCESS');
  });

  it('does not wait by default', async () => {
    const h = harness({ worker: false });
    const submitted = await deferredTask(h);
    const before = h.clock.now();
    await h.request(`/tasks/${submitted.id}`);
    expect(h.clock.now()).toBe(before);
  });

  it("answers 404 task_not_found for another user's task, exactly as for an unknown id", async () => {
    const h = harness({ worker: false });
    const submitted = await deferredTask(h);
    const foreign = await h.request(`/tasks/${submitted.id}`, { user: 'bob' });
    const unknownId = submitted.id.replace(/.{12}$/, '000000000000');
    const unknown = await h.request(`/tasks/${unknownId}`, { user: 'bob' });
    expect(foreign.status).toBe(404);
    expect(unknown.status).toBe(404);
    const foreignError = await errorBody(foreign);
    const unknownError = await errorBody(unknown);
    expect(foreignError.code).toBe('task_not_found');
    expect(unknownError.code).toBe('task_not_found');
    expect(foreignError.message.replace(submitted.id, '<id>')).toBe(unknownError.message.replace(unknownId, '<id>'));
  });

  it('answers 404 task_not_found for an unknown, well-formed id', async () => {
    const response = await harness().request('/tasks/task_8c5a3b1e-2f4d-4a6b-9c8d-0e1f2a3b4c5d');
    expect(response.status).toBe(404);
    expect((await errorBody(response)).code).toBe('task_not_found');
  });

  it.each(['123', 'task_', 'task_not-a-uuid', 'TASK_8c5a3b1e-2f4d-4a6b-9c8d-0e1f2a3b4c5d', 'task_8C5A3B1E-2F4D-4A6B-9C8D-0E1F2A3B4C5D'])(
    'answers 400 invalid_request for the malformed id %j',
    async (id) => {
      const response = await harness().request(`/tasks/${id}`);
      expect(response.status).toBe(400);
      expect((await errorBody(response)).code).toBe('invalid_request');
    },
  );

  it('answers 404 task_not_found once the task has expired, even before the store deletes it', async () => {
    const h = harness({ worker: false });
    const submitted = await deferredTask(h);
    h.clock.ms += (TASK_TTL_SECONDS - 1) * 1000;
    expect((await h.request(`/tasks/${submitted.id}`)).status).toBe(200);
    h.clock.ms += 1000;
    expect(h.store.tasks.has(submitted.id)).toBe(true);
    const response = await h.request(`/tasks/${submitted.id}`);
    expect(response.status).toBe(404);
    expect((await errorBody(response)).code).toBe('task_not_found');
  });

  it('answers 404 for a record created directly with expiresAt in the past', async () => {
    const h = harness();
    const id = 'task_8c5a3b1e-2f4d-4a6b-9c8d-0e1f2a3b4c5d';
    const task: Task = {
      id,
      owner: 'alice',
      name: 'add',
      args: ['1'],
      state: 'SUCCESS',
      result: '1',
      createdAt: new Date(h.clock.now() - 10_000).toISOString(),
      updatedAt: new Date(h.clock.now() - 9_000).toISOString(),
      expiresAt: Math.floor(h.clock.now() / 1000) - 1,
    };
    await h.store.create(task);
    const response = await h.request(`/tasks/${id}`);
    expect(response.status).toBe(404);
    expect((await errorBody(response)).code).toBe('task_not_found');
  });

  it('answers 503 unavailable when the store is down', async () => {
    const h = harness({ worker: false });
    const submitted = await deferredTask(h);
    h.store.failNext('get');
    const response = await h.request(`/tasks/${submitted.id}`);
    expect(response.status).toBe(503);
    expect((await errorBody(response)).code).toBe('unavailable');
  });

  it('answers 400 for ?wait= out of range', async () => {
    const h = harness({ worker: false });
    const submitted = await deferredTask(h);
    const response = await h.request(`/tasks/${submitted.id}?wait=6`);
    expect(response.status).toBe(400);
    expect((await errorBody(response)).code).toBe('invalid_request');
  });
});

describe('unknown routes and methods', () => {
  it.each<[string, string]>([
    ['GET', '/nope'],
    ['POST', '/tasks/task_8c5a3b1e-2f4d-4a6b-9c8d-0e1f2a3b4c5d/extra'],
    ['DELETE', '/nowhere/at/all'],
  ])('answers %s %s with 404 not_found in the JSON error shape', async (method, path) => {
    const response = await harness().request(path, { method });
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect((await errorBody(response)).code).toBe('not_found');
  });

  it.each<[string, string, string]>([
    ['PUT', '/tasks', 'POST, GET, HEAD, OPTIONS'],
    ['GET', '/tasks/batch', 'POST, OPTIONS'],
    ['GET', '/tasks/task_8c5a3b1e-2f4d-4a6b-9c8d-0e1f2a3b4c5d/cancel', 'POST, OPTIONS'],
    ['DELETE', '/tasks/task_8c5a3b1e-2f4d-4a6b-9c8d-0e1f2a3b4c5d', 'GET, HEAD, OPTIONS'],
    ['POST', '/health', 'GET, HEAD, OPTIONS'],
    ['GET', '/auth/token', 'POST, OPTIONS'],
    ['PATCH', '/ready', 'GET, HEAD, OPTIONS'],
  ])('answers %s %s with 405 method_not_allowed and Allow: %s', async (method, path, allow) => {
    const response = await harness().request(path, { method });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe(allow);
    const error = await errorBody(response);
    expect(error.code).toBe('method_not_allowed');
    expect(error.message).toContain(allow);
  });

  it('answers OPTIONS on a known path with 204 and Allow, and no CORS headers', async () => {
    const response = await harness().app.request('/tasks', {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(response.status).toBe(204);
    expect(response.headers.get('allow')).toBe('POST, GET, HEAD, OPTIONS');
    expect([...response.headers.keys()].filter((name) => name.startsWith('access-control-'))).toEqual([]);
  });

  it('answers HEAD on a GET route as GET does, without a body', async () => {
    const response = await harness().app.request('/health', { method: 'HEAD' });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('');
  });
});
