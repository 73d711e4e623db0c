import { describe, expect, it } from 'vitest';
import type { RateLimitRetry, RetryOn429Options } from '../../client/src/client-options.ts';
import { DoozerClient } from '../../client/src/doozer-client.ts';
import { DoozerApiError, DoozerRateLimitError } from '../../client/src/errors.ts';
import type { TaskView } from '../../client/src/types.ts';
import { RawJson, retryAfterSeconds } from '../../client/src/wire.ts';
import { taskView } from '../support/scripted-api.ts';

const URL_BASE = 'http://doozer.test';
const ID = 'task_1db8fd1f-aff0-4db6-9c9a-ada3d20cb006';

const view = (overrides: Partial<TaskView> = {}): TaskView => taskView({ id: ID, ...overrides });

/** A 429 as the API gives it: its error, Retry-After (when given) and the RateLimit headers. */
function tooMany(retryAfter: string | undefined, message = 'too many requests; try again shortly', remaining = 0): Response {
  const headers: Record<string, string> = { 'ratelimit-limit': '60', 'ratelimit-remaining': String(remaining), 'ratelimit-reset': '2' };
  if (retryAfter !== undefined) headers['retry-after'] = retryAfter;
  return Response.json({ error: { code: 'too_many_requests', message } }, { status: 429, headers });
}

interface Sent {
  readonly route: string;
  readonly body: string | undefined;
  readonly headers: Record<string, string>;
  /** Milliseconds since the stub was made. */
  readonly at: number;
}

/**
 * A fetch that logs in anyone and answers the other requests with `answers`, in turn (the last one
 * again once they run out), recording each request.
 */
function stub(...answers: (() => Response)[]) {
  const sent: Sent[] = [];
  const started = Date.now();
  let next = 0;
  const fetch: typeof globalThis.fetch = async (input, init) => {
    const url = new URL(String(input));
    const route = `${init?.method ?? 'GET'} ${url.pathname}`;
    sent.push({ route, body: typeof init?.body === 'string' ? init.body : undefined, headers: { ...(init?.headers as Record<string, string>) }, at: Date.now() - started });
    if (route === 'POST /auth/token') return Response.json({ token: 'a.b.c', tokenType: 'Bearer', expiresIn: 3_600 });
    const answer = answers[Math.min(next, answers.length - 1)]!;
    next += 1;
    return answer();
  };
  const retries: RateLimitRetry[] = [];
  /** A client with `retryOn429` (by default, one that records each retry); with null, without. */
  const client = (retryOn429: RetryOn429Options | null = { onRetry: (retry) => retries.push(retry) }) =>
    new DoozerClient({ url: URL_BASE, username: 'alice', password: 'pw', fetch, ...(retryOn429 && { retryOn429 }) });
  /** The requests after the login, as `METHOD /path`. */
  const routes = () => sent.filter((request) => request.route !== 'POST /auth/token').map((request) => request.route);
  return { sent, retries, client, routes };
}

/** Awaits `promise` expecting a DoozerRateLimitError and returns it. */
async function rateLimited(promise: Promise<unknown>): Promise<DoozerRateLimitError> {
  const error = await promise.then(() => undefined, (caught: unknown) => caught);
  expect(error).toBeInstanceOf(DoozerRateLimitError);
  return error as DoozerRateLimitError;
}

describe('retryOn429', () => {
  it('waits out a 429 with Retry-After 1 and sends the POST /tasks once more, the same body, telling onRetry', async () => {
    const { client, sent, retries, routes } = stub(
      () => tooMany('1'),
      () => Response.json(view(), { status: 202 }),
    );
    const { task, deferred } = await client().submit('add', [1, 2], { callbackUrl: 'https://example.com/hook' });
    expect(deferred).toBe(true);
    expect(task.id).toBe(ID);
    expect(routes()).toEqual(['POST /tasks', 'POST /tasks']);
    const [first, second] = sent.filter((request) => request.route === 'POST /tasks');
    expect(second!.body).toBe(first!.body);
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(990);
    expect(retries).toHaveLength(1);
    expect(retries[0]).toMatchObject({ method: 'POST', path: '/tasks', waitSeconds: 1 });
    expect(retries[0]!.error).toMatchObject({ status: 429, code: 'too_many_requests', retryAfterSeconds: 1, login: false, retried: false });
    expect(retries[0]!.error.rateLimit).toEqual({ limit: 60, remaining: 0, resetSeconds: 2 });
  });

  it('throws at once for a Retry-After longer than maxWaitSeconds (5 by default), without waiting', async () => {
    const { client, retries, routes } = stub(() => tooMany('60'));
    const started = Date.now();
    const error = await rateLimited(client().get(ID));
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(error).toMatchObject({ status: 429, code: 'too_many_requests', retryAfterSeconds: 60, retried: false });
    expect(routes()).toEqual(['GET /tasks/' + ID]);
    expect(retries).toEqual([]);

    const shorter = stub(() => tooMany('1'));
    expect((await rateLimited(shorter.client({ maxWaitSeconds: 0 }).get(ID))).retryAfterSeconds).toBe(1);
    expect(shorter.routes()).toHaveLength(1);
  });

  it('retries only once: a second 429 is thrown, marked retried, with its own Retry-After', async () => {
    const { client, routes } = stub(
      () => tooMany('0'),
      () => tooMany('3', 'still too many'),
    );
    const error = await rateLimited(client().submit('add', [1]));
    expect(error).toMatchObject({ message: 'still too many', retryAfterSeconds: 3, retried: true });
    expect(routes()).toEqual(['POST /tasks', 'POST /tasks']);
  });

  it('does not retry a 429 without a Retry-After it understands', async () => {
    for (const retryAfter of [undefined, 'soon', '-1', '1.5']) {
      const { client, routes } = stub(() => tooMany(retryAfter));
      expect((await rateLimited(client().get(ID))).retryAfterSeconds).toBeUndefined();
      expect(routes()).toHaveLength(1);
    }
  });

  it('is off by default: a 429 throws DoozerRateLimitError (a DoozerApiError 429) at once', async () => {
    const { client, routes } = stub(() => tooMany('0'));
    const error = await rateLimited(client(null).get(ID));
    expect(error).toBeInstanceOf(DoozerApiError);
    expect(routes()).toHaveLength(1);
  });

  it('retries a batch with its Idempotency-Key, and the login, saying which was refused', async () => {
    const batch = stub(
      () => tooMany('0', 'too many open tasks: 1000 of 1000; let some end first', 7),
      () => Response.json({ results: [{ task: view() }] }),
    );
    const { results } = await batch.client().submitBatch([{ name: 'add', args: [1], callbackUrl: 'https://example.com/hook' }], { idempotencyKey: 'nightly-1' });
    expect(results).toHaveLength(1);
    const posts = batch.sent.filter((request) => request.route === 'POST /tasks/batch');
    expect(posts.map((request) => request.headers['idempotency-key'])).toEqual(['nightly-1', 'nightly-1']);
    expect(JSON.parse(posts[1]!.body!)).toEqual({ tasks: [{ name: 'add', args: [1], callbackUrl: 'https://example.com/hook' }] });
    expect(batch.retries[0]!.error).toMatchObject({ message: 'too many open tasks: 1000 of 1000; let some end first', rateLimit: { remaining: 7 } });

    let logins = 0;
    const retries: RateLimitRetry[] = [];
    const doozer = new DoozerClient({
      url: URL_BASE,
      username: 'alice',
      password: 'pw',
      retryOn429: { onRetry: (retry) => retries.push(retry) },
      fetch: async () => {
        logins += 1;
        if (logins === 1) return Response.json({ error: { code: 'too_many_requests', message: 'too many logins are being checked at once' } }, { status: 429, headers: { 'retry-after': '0' } });
        return Response.json({ token: 'a.b.c', tokenType: 'Bearer', expiresIn: 3_600 });
      },
    });
    expect((await doozer.token()).token).toBe('a.b.c');
    expect(retries.map((retry) => [retry.path, retry.error.login, retry.error.rateLimit])).toEqual([['/auth/token', true, undefined]]);
  });
});

describe('callbackUrl', () => {
  it('goes beside name and args, also with args given as JSON text and with runAt', async () => {
    const { client, sent } = stub(() => Response.json(view({ state: 'SCHEDULED' }), { status: 202 }));
    const runAt = new Date('2026-12-01T18:30:00.000Z');
    await client().run('add', [1, 2], { callbackUrl: new URL('https://example.com/hooks/doozer?task=1'), runAt });
    await client().run('add', new RawJson('[1, 2]'), { callbackUrl: 'https://example.com/hooks/doozer', delaySeconds: 60 });
    const bodies = sent.filter((request) => request.route === 'POST /tasks').map((request) => request.body);
    expect(JSON.parse(bodies[0]!)).toEqual({ name: 'add', args: [1, 2], runAt: '2026-12-01T18:30:00.000Z', callbackUrl: 'https://example.com/hooks/doozer?task=1' });
    expect(bodies[1]).toBe('{"name":"add","args":[1, 2],"delaySeconds":60,"callbackUrl":"https://example.com/hooks/doozer"}');
  });
});

describe('retryAfterSeconds', () => {
  const now = Date.parse('2026-12-01T12:00:00.000Z');
  it.each<[string | null, number | undefined]>([
    ['2', 2],
    [' 0 ', 0],
    ['Tue, 01 Dec 2026 12:00:30 GMT', 30],
    ['Tue, 01 Dec 2026 11:59:00 GMT', 0],
    [null, undefined],
    ['', undefined],
    ['1.5', undefined],
    ['-1', undefined],
    ['2026', 2026],
    ['Tuesday', undefined],
  ])('%j is %j s', (value, seconds) => {
    expect(retryAfterSeconds(value, now)).toBe(seconds);
  });
});
