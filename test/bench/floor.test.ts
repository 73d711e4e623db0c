import { describe, expect, it } from 'vitest';
import { FLOOR_PATH, withFloorRoute } from '../../bench/floor.ts';
import { systemClock } from '../../lib/clock.ts';
import { MAX_BODY_BYTES } from '../../lib/http/json-limits.ts';
import { createTestApp } from '../support/app-harness.ts';

/**
 * The product's app over a store and a queue that record what reaches them, with alice limited to
 * a burst of 2 requests: `withFloor` adds the bench's floor route as bench/floor-handler.ts does.
 */
function floorApp({ withFloor = true } = {}) {
  const h = createTestApp({
    worker: false,
    clock: systemClock,
    taskTtlSeconds: 3600,
    profiles: {
      users: [{ username: 'alice', passwordHash: 'unused' }],
      defaultLimits: { requestsPerSecond: 1, burst: 2, openTasks: 10 },
      openTasks: false,
    },
  });
  const { store, queue } = h;
  const rates = h.rates!;
  const app = withFloor ? withFloorRoute(h.app, h.deps) : h.app;
  const post = async (body: unknown, { auth = true, method = 'POST' } = {}) =>
    app.request(FLOOR_PATH, {
      method,
      headers: {
        'content-type': 'application/json',
        ...(auth && { authorization: `Bearer ${await h.tokenFor('alice')}` }),
      },
      ...(method === 'POST' && { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
  return { store, queue, rates, post };
}

const errorCode = async (response: Response) => ((await response.json()) as { error: { code: string } }).error.code;

describe('POST /bench/floor (the benchmark floor, bench/floor.ts)', () => {
  it('computes the add inline and answers 200, touching neither the store nor the queue', async () => {
    const { store, queue, post } = floorApp();
    const response = await post({ name: 'add', args: [1, 2, '9007199254740993'] });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ name: 'add', args: [1, 2, '9007199254740993'], state: 'SUCCESS', result: '9007199254740996' });
    expect(store.tasks.size).toBe(0);
    expect(queue.sent).toEqual([]);
  });

  it('sits behind the same bearer auth as POST /tasks, with the app\'s error shape', async () => {
    const response = await floorApp().post({ name: 'add', args: [1] }, { auth: false });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer realm="doozer"');
    expect(await errorCode(response)).toBe('unauthorized');
  });

  it('counts each request against the caller\'s rate, as every signed-in request is (429 past the burst)', async () => {
    const { rates, post } = floorApp();
    expect((await post({ name: 'add', args: [1] })).status).toBe(200);
    expect((await post({ name: 'add', args: [1] })).status).toBe(200);
    const refused = await post({ name: 'add', args: [1] });
    expect(refused.status).toBe(429);
    expect(await errorCode(refused)).toBe('too_many_requests');
    expect(rates.tats.has('alice')).toBe(true);
  });

  it('refuses a task the catalog refuses, and a body over the limit, as POST /tasks does', async () => {
    const { post } = floorApp();
    const unknown = await post({ name: 'sub', args: [1] });
    expect(unknown.status).toBe(400);
    expect(await errorCode(unknown)).toBe('unknown_task');
    const tooBig = await post(JSON.stringify({ name: 'add', args: [1], padding: 'x'.repeat(MAX_BODY_BYTES) }));
    expect(tooBig.status).toBe(413);
    expect(await errorCode(tooBig)).toBe('payload_too_large');
  });

  it('answers other methods with the app\'s 404, since the app listed its paths before the floor was added', async () => {
    const response = await floorApp().post(undefined, { method: 'GET' });
    expect(response.status).toBe(404);
    expect(await errorCode(response)).toBe('not_found');
  });

  it('is not part of the product: the app alone answers 404 not_found', async () => {
    const response = await floorApp({ withFloor: false }).post({ name: 'add', args: [1] });
    expect(response.status).toBe(404);
    expect(await errorCode(response)).toBe('not_found');
  });
});
