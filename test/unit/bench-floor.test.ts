import { describe, expect, it } from 'vitest';
import { TokenIssuer } from '../../lib/auth/tokens.ts';
import { UserDirectory } from '../../lib/auth/users.ts';
import { createApp } from '../../lib/http/app.ts';
import { TaskService } from '../../lib/tasks/task-service.ts';
import { MemoryTaskStore, RecordingQueue } from '../support/memory-task-store.ts';
import { catalog } from '../support/catalog.ts';

const tokens = new TokenIssuer({
  secret: 'a-bench-floor-test-secret-of-at-least-32-characters',
  issuer: 'doozer',
  audience: 'doozer-api',
  ttlSeconds: 3600,
});

/** The app with the floor route on or off, over a store and a queue that record what reaches them. */
function floorApp(benchFloor: boolean | undefined) {
  const store = new MemoryTaskStore();
  const queue = new RecordingQueue();
  const tasks = new TaskService({ store, queue, taskTtlSeconds: 3600 });
  const app = createApp({ catalog, tasks, users: new UserDirectory([]), tokens, ...(benchFloor !== undefined && { benchFloor }) });
  const post = async (body: unknown, { auth = true } = {}) =>
    app.request('/bench/floor', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(auth && { authorization: `Bearer ${(await tokens.issue('alice')).token}` }),
      },
      body: JSON.stringify(body),
    });
  return { store, queue, post };
}

describe('POST /bench/floor (the benchmark floor)', () => {
  it('computes the add inline and answers 200, touching neither the store nor the queue', async () => {
    const { store, queue, post } = floorApp(true);
    const response = await post({ name: 'add', args: [1, 2, '9007199254740993'] });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ name: 'add', args: [1, 2, '9007199254740993'], state: 'SUCCESS', result: '9007199254740996' });
    expect(store.tasks.size).toBe(0);
    expect(queue.sent).toEqual([]);
  });

  it('sits behind the same bearer auth as POST /tasks', async () => {
    const response = await floorApp(true).post({ name: 'add', args: [1] }, { auth: false });
    expect(response.status).toBe(401);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
  });

  it('refuses a task the catalog refuses with a 400, as POST /tasks does', async () => {
    const response = await floorApp(true).post({ name: 'sub', args: [1] });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('unknown_task');
  });

  it.each([
    ['not set', undefined],
    ['false', false],
  ])('does not exist when benchFloor is %s (404 not_found)', async (_label, benchFloor) => {
    const response = await floorApp(benchFloor).post({ name: 'add', args: [1] });
    expect(response.status).toBe(404);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('not_found');
  });
});
