import { describe, expect, it } from 'vitest';
import * as z from 'zod/mini';
import { IdempotencyKeyReusedError, InvalidRequestError, RequestInProgressError, TaskEndedError, TaskNotFoundError, UnavailableError } from '../../lib/errors.ts';
import { defineTask } from '../../lib/tasks/define-task.ts';
import { idempotencyClaimId } from '../../lib/tasks/idempotency.ts';
import { ListCursors } from '../../lib/tasks/list-cursor.ts';
import type { Task } from '../../lib/tasks/task.ts';
import { TaskCatalog } from '../../lib/tasks/task-catalog.ts';
import type { BatchItem } from '../../lib/tasks/task-service.ts';
import { TaskSweeper } from '../../lib/tasks/task-sweeper.ts';
import { encodeTaskMessage } from '../../lib/tasks/task-message.ts';
import { systemClock } from '../../lib/clock.ts';
import { createTestTasks } from '../support/app-harness.ts';

/** How often `count` ran, and a task that waits on its signal for as long as asked. */
const runs: string[] = [];
const count = defineTask({
  name: 'count',
  description: 'Records that it ran: an effect, so not pure.',
  args: z.strictObject({ tag: z.string() }),
  run: ({ tag }) => {
    runs.push(tag);
    return tag;
  },
});
const wait = defineTask({
  name: 'wait',
  description: 'Waits until its signal fires, then returns anyway.',
  args: z.strictObject({}),
  run: async (_args, ctx) => {
    await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
    return 'finished after all';
  },
});
const idle = defineTask({
  name: 'idle',
  description: 'Like wait, but pure: it starts without a write to its record.',
  args: z.strictObject({}),
  pure: true,
  run: wait.run,
});
const catalog = new TaskCatalog([count, wait, idle]);

const MINUTE = 60_000;

/** The service and the worker of test/support/app-harness.ts over this file's tasks, with a sweeper; `newId` names new tasks. */
function setup({ consume = false, newId }: { consume?: boolean; newId?: () => string } = {}) {
  const h = createTestTasks({
    catalog,
    worker: consume,
    taskTtlSeconds: 7 * 86_400,
    workerOptions: { cancelCheckIntervalMs: 10 },
    ...(newId && { service: { newId } }),
  });
  const sweeper = new TaskSweeper({ store: h.store, queue: h.queue, staleAfterSeconds: 300, clock: h.clock });
  return { clock: h.clock, store: h.store, queue: h.queue, worker: h.worker, service: h.tasks, sweeper, idempotency: h.idempotency };
}

/** As a worker and the API run: on the system clock, nothing consuming the queue. */
const onTheSystemClock = (cancelCheckIntervalMs?: number) =>
  createTestTasks({ catalog, clock: systemClock, worker: false, taskTtlSeconds: 3600, ...(cancelCheckIntervalMs && { workerOptions: { cancelCheckIntervalMs } }) });

const input = (tag: string) => ({ name: 'count', args: { tag } });

describe('running a task later', () => {
  it('queues a task due within 15 minutes with the queue\'s delay, and answers at once without waiting', async () => {
    const { service, queue, clock } = setup({ consume: true });
    const task = await service.submit('alice', input('soon'), 5_000, { delaySeconds: 90 });
    expect(task).toMatchObject({ state: 'PENDING', runAt: new Date(clock.now() + 90_000).toISOString() });
    expect(queue.delays.get(task.id)).toBe(90);
    expect(task.expiresAt).toBe(Math.floor((clock.now() + 90_000) / 1000) + 7 * 86_400);
  });

  it('keeps a task due later than 15 minutes SCHEDULED in the store, with no message yet', async () => {
    const { service, queue, clock } = setup();
    const runAt = new Date(clock.now() + 20 * MINUTE).toISOString();
    const task = await service.submit('alice', input('later'), 5_000, { runAt });
    expect(task).toMatchObject({ state: 'SCHEDULED', runAt });
    expect(queue.sent).toEqual([]);
  });

  it.each([
    [{ runAt: '2029-12-31T23:59:59Z' }, 'in the past'],
    [{ runAt: '2030-01-08T00:00:01Z' }, '7 days (604800 s)'],
    [{ delaySeconds: 604_801 }, '7 days (604800 s)'],
    [{ delaySeconds: 5, runAt: '2030-01-01T00:10:00Z' }, 'not both'],
  ])('refuses %j with a 400 naming the limit', async (runLater, words) => {
    const { service, store } = setup();
    const refused = service.submit('alice', input('x'), 0, runLater);
    await expect(refused).rejects.toBeInstanceOf(InvalidRequestError);
    await expect(refused).rejects.toThrow(words);
    expect(store.tasks.size).toBe(0);
  });

  it('queues a SCHEDULED task once it is due within two sweeps, delayed to its time, and never one cancelled meanwhile', async () => {
    const { service, sweeper, queue, clock, store } = setup();
    const kept = await service.submit('alice', input('kept'), 0, { delaySeconds: 30 * 60 });
    const dropped = await service.submit('alice', input('dropped'), 0, { delaySeconds: 30 * 60 });
    await service.cancel('alice', dropped.id);
    clock.ms += 27 * MINUTE;
    expect(await sweeper.sweep()).toMatchObject({ released: 0 });
    clock.ms += 2 * MINUTE;
    expect(await sweeper.sweep()).toMatchObject({ released: 1 });
    expect(queue.sent.map((message) => message.taskId)).toEqual([kept.id]);
    expect(queue.delays.get(kept.id)).toBe(60);
    expect(store.tasks.get(kept.id)!.state).toBe('PENDING');
    expect(store.tasks.get(dropped.id)!.state).toBe('CANCELLED');
    expect(await sweeper.sweep()).toMatchObject({ released: 0 });
  });

  it('keeps the key of a single task whose record may be written though reported failed: a retry replays it', async () => {
    const { service, store } = setup();
    const create = store.create.bind(store);
    store.create = async (task) => {
      await create(task);
      throw new UnavailableError('timed out after it was applied');
    };
    store.failNext('transition');
    await expect(service.submitOnce('alice', 'k', input('maybe'), 0)).rejects.toBeInstanceOf(UnavailableError);
    const again = await service.submitOnce('alice', 'k', input('maybe'), 0);
    expect(again).toMatchObject({ replayed: true, task: { id: [...store.tasks.keys()][0] } });
    expect(store.tasks.size).toBe(1);
  });

  it('answers a repeat with the same Idempotency-Key at once too, and another time as another request', async () => {
    const { service, clock } = setup();
    const first = await service.submitOnce('alice', 'k', input('later'), 5_000, { delaySeconds: 3600 });
    const started = clock.now();
    const again = await service.submitOnce('alice', 'k', input('later'), 5_000, { delaySeconds: 3600 });
    expect(again).toEqual({ task: first.task, replayed: true });
    expect(clock.now()).toBe(started);
    await expect(service.submitOnce('alice', 'k', input('later'), 5_000, { delaySeconds: 60 })).rejects.toBeInstanceOf(
      IdempotencyKeyReusedError,
    );
  });

  it('answers a retry with the same key after the time has passed with the task, not a 400', async () => {
    const { service, clock } = setup();
    const runAt = new Date(clock.now() + 30_000).toISOString();
    const first = await service.submitOnce('alice', 'k', input('soon'), 0, { runAt });
    clock.ms += 40_000;
    await expect(service.submitOnce('alice', 'k', input('soon'), 0, { runAt })).resolves.toEqual({ task: first.task, replayed: true });
    await expect(service.submitOnce('alice', 'other', input('soon'), 0, { runAt })).rejects.toBeInstanceOf(InvalidRequestError);
  });

  it('queues an overdue SCHEDULED task once, not again beside its release', async () => {
    const { service, sweeper, queue, clock } = setup();
    const task = await service.submit('alice', input('overdue'), 0, { delaySeconds: 20 * 60 });
    clock.ms += 60 * MINUTE;
    expect(await sweeper.sweep()).toMatchObject({ released: 1, requeued: 0 });
    expect(await sweeper.sweep()).toMatchObject({ released: 0, requeued: 0 });
    expect(queue.sent.map((message) => message.taskId)).toEqual([task.id]);
  });

  it('queues again the stale tasks even when the scheduler fails, and then fails the run', async () => {
    const { service, sweeper, queue, clock, store } = setup();
    const stale = await service.submit('alice', input('stale'), 0);
    queue.sent.length = 0;
    clock.ms += 10 * MINUTE;
    store.failNext('listDue');
    await expect(sweeper.sweep()).rejects.toBeInstanceOf(AggregateError);
    expect(queue.sent.map((message) => message.taskId)).toEqual([stale.id]);
  });

  it('does not queue a delayed task again while its message is still on its way', async () => {
    const { service, sweeper, queue, clock } = setup();
    await service.submit('alice', input('delayed'), 0, { delaySeconds: 800 });
    clock.ms += 10 * MINUTE;
    expect(await sweeper.sweep()).toMatchObject({ requeued: 0 });
    clock.ms += 800_000 + 5 * MINUTE;
    expect(await sweeper.sweep()).toMatchObject({ requeued: 1 });
    expect(queue.sent).toHaveLength(2);
  });
});

describe('cancelling a task', () => {
  it('ends an open task CANCELLED, answers the same again, and a worker then never runs it', async () => {
    const { service, worker, queue } = setup();
    const task = await service.submit('alice', input('never'), 0);
    const cancelled = await service.cancel('alice', task.id);
    expect(cancelled.state).toBe('CANCELLED');
    expect(await service.cancel('alice', task.id)).toEqual(cancelled);
    runs.length = 0;
    await expect(worker.process(encodeTaskMessage(queue.sent[0]!))).resolves.toBe('skipped');
    expect(runs).toEqual([]);
  });

  it('answers 409 with the state for an ended task, and 404 for another user\'s', async () => {
    const { service } = setup({ consume: true });
    const done = await service.submit('alice', input('done'), 5_000);
    expect(done.state).toBe('SUCCESS');
    const ended = service.cancel('alice', done.id);
    await expect(ended).rejects.toBeInstanceOf(TaskEndedError);
    await expect(ended).rejects.toMatchObject({ state: 'SUCCESS', status: 409 });
    await expect(service.cancel('bob', done.id)).rejects.toBeInstanceOf(TaskNotFoundError);
  });

  it('gives every one of 50 concurrent cancels the same CANCELLED task, written once', async () => {
    const { service, store } = setup();
    const task = await service.submit('alice', input('burst'), 0);
    let writes = 0;
    const transition = store.transition.bind(store);
    store.transition = async (id, change) => {
      const updated = await transition(id, change);
      if (updated?.state === 'CANCELLED') writes += 1;
      return updated;
    };
    const answers = await Promise.all(Array.from({ length: 50 }, () => service.cancel('alice', task.id)));
    expect(new Set(answers.map((answer) => JSON.stringify(answer))).size).toBe(1);
    expect(answers[0]!.state).toBe('CANCELLED');
    expect(writes).toBe(1);
  });

  it('stops a pure task cancelled while it was queued within milliseconds, and keeps nothing it returns', async () => {
    const { store, worker, tasks: service } = onTheSystemClock(10_000);
    const task = await service.submit('alice', { name: 'idle', args: {} }, 0);
    await service.cancel('alice', task.id);
    const started = performance.now();
    await expect(worker.process(encodeTaskMessage({ taskId: task.id, name: 'idle', args: {} }))).resolves.toBe('skipped');
    // Stopped by the first read of its record, not by the next one ten seconds later.
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(store.tasks.get(task.id)).toMatchObject({ state: 'CANCELLED' });
    expect(store.tasks.get(task.id)!.result).toBeUndefined();
  });

  it('stops a running task through its signal and keeps nothing it returns afterwards', async () => {
    const { store, worker, tasks: service } = onTheSystemClock(10);
    const task = await service.submit('alice', { name: 'wait', args: {} }, 0);
    const running = worker.process(encodeTaskMessage({ taskId: task.id, name: 'wait', args: {} }));
    await expect.poll(() => store.tasks.get(task.id)?.startedAt).toBeDefined();
    await service.cancel('alice', task.id);
    await expect(running).resolves.toBe('skipped');
    expect(store.tasks.get(task.id)).toMatchObject({ state: 'CANCELLED' });
    expect(store.tasks.get(task.id)!.result).toBeUndefined();
  });

  it('answers a caller waiting on the task as soon as it is cancelled', async () => {
    const { service, clock, store } = setup();
    clock.onSleep = async () => {
      const [open] = [...store.tasks.values()];
      if (open && open.state === 'PENDING' && clock.now() - Date.parse(open.createdAt) > 300) await service.cancel('alice', open.id);
      return undefined;
    };
    const answered = await service.submit('alice', input('waited'), 5_000);
    expect(answered.state).toBe('CANCELLED');
    expect(clock.now() - Date.parse(answered.createdAt)).toBeLessThan(1_000);
  });
});

describe('a message that outlives its task', () => {
  it('runs nothing, pure or not, once the task has expired (the API answers 404 for it)', async () => {
    const { store, worker, tasks: service } = onTheSystemClock();
    for (const [name, args] of [['count', { tag: 'late' }], ['idle', {}]] as const) {
      const task = await service.submit('alice', { name, args }, 0);
      store.tasks.set(task.id, { ...store.tasks.get(task.id)!, expiresAt: Math.floor(Date.now() / 1000) - 1 });
      runs.length = 0;
      await expect(worker.process(encodeTaskMessage({ taskId: task.id, name, args }))).resolves.toBe('skipped');
      expect(runs).toEqual([]);
      expect(store.tasks.get(task.id)).toMatchObject({ state: 'PENDING' });
    }
  });
});

describe('listing tasks', () => {
  it('pages through 250 tasks newest first without a gap or a repeat, and never shows another user\'s', async () => {
    const { service, store, clock } = setup();
    for (let index = 0; index < 250; index += 1) {
      await store.create(task(`alice`, index, clock.now() + Math.floor(index / 3)));
      await store.create(task('bob', index, clock.now()));
    }
    const seen: Task[] = [];
    let cursor: string | undefined;
    do {
      const page = await service.list('alice', { limit: 100, cursor });
      seen.push(...page.tasks);
      cursor = page.next;
    } while (cursor);
    expect(seen).toHaveLength(250);
    expect(new Set(seen.map((each) => each.id)).size).toBe(250);
    expect(seen.every((each) => each.owner === 'alice')).toBe(true);
    const keys = seen.map((each) => `${each.createdAt}#${each.id}`);
    expect(keys).toEqual([...keys].sort().reverse());
  });

  it('refuses a cursor given to another user, or altered, with a 400', async () => {
    const { service, store, clock } = setup();
    for (let index = 0; index < 3; index += 1) await store.create(task('alice', index, clock.now()));
    const { next } = await service.list('alice', { limit: 1 });
    await expect(service.list('bob', { limit: 1, cursor: next })).rejects.toBeInstanceOf(InvalidRequestError);
    const [payload, signature] = next!.split('.');
    const forged = `${Buffer.from(JSON.stringify(['2999-01-01T00:00:00.000Z', 'task_00000000-0000-4000-8000-000000000000'])).toString('base64url')}.${signature}`;
    await expect(service.list('alice', { limit: 1, cursor: forged })).rejects.toBeInstanceOf(InvalidRequestError);
    await expect(service.list('alice', { limit: 1, cursor: `${payload}.${signature}x` })).rejects.toBeInstanceOf(InvalidRequestError);
    await expect(service.list('alice', { limit: 1, cursor: next })).resolves.toMatchObject({ tasks: [expect.anything()] });
  });

  it('reads cursors signed by another instance with the same secret', () => {
    const position = { createdAt: '2030-01-01T00:00:00.000Z', id: 'task_00000000-0000-4000-8000-000000000000' };
    const cursor = new ListCursors('a shared secret').encode({ owner: 'alice', state: 'PENDING' }, position);
    expect(new ListCursors('a shared secret').decode({ owner: 'alice', state: 'PENDING' }, cursor)).toEqual(position);
    expect(() => new ListCursors('another secret').decode({ owner: 'alice', state: 'PENDING' }, cursor)).toThrow(InvalidRequestError);
    expect(() => new ListCursors('a shared secret').decode({ owner: 'alice' }, cursor)).toThrow(InvalidRequestError);
    expect(() => new ListCursors('a shared secret').decode({ owner: 'alice', state: 'PENDING', name: 'add' }, cursor)).toThrow(
      InvalidRequestError,
    );
  });
});

function task(owner: string, index: number, createdMs: number): Task {
  const createdAt = new Date(createdMs).toISOString();
  const id = `task_${String(index).padStart(8, '0')}-0000-4000-8000-${owner === 'alice' ? 'a' : 'b'}00000000000`;
  return { id, owner, name: 'count', args: { tag: String(index) }, state: 'PENDING', createdAt, updatedAt: createdAt, expiresAt: Math.floor(createdMs / 1000) + 3600 };
}

describe('submitting a batch', () => {
  const ok = (tag: string, runLater?: { delaySeconds: number }): BatchItem => ({ ok: true, task: { input: input(tag), ...(runLater && { runLater }) } });
  const refused: BatchItem = { ok: false, error: { code: 'unknown_task', message: 'unknown task "nope"' } };

  it('answers each item in order, and records and queues each accepted one once', async () => {
    const { service, queue, store } = setup();
    const { results } = await service.submitBatch('alice', [ok('a'), refused, ok('b', { delaySeconds: 30 }), ok('c', { delaySeconds: 3600 })]);
    expect(results.map((result) => ('task' in result ? result.task.state : result.error.code))).toEqual(['PENDING', 'unknown_task', 'PENDING', 'SCHEDULED']);
    expect(queue.sent).toHaveLength(2);
    expect(store.tasks.size).toBe(3);
  });

  it('refuses an item with a bad time on its own', async () => {
    const { service } = setup();
    const { results } = await service.submitBatch('alice', [ok('a'), ok('b', { delaySeconds: 10 ** 7 })]);
    expect(results[1]).toMatchObject({ error: { code: 'invalid_request', message: expect.stringContaining('7 days') } });
  });

  it('answers unavailable for an item that could not be recorded or queued, and leaves none of them open', async () => {
    const ids = ['task_00000001-0000-4000-8000-000000000000', 'task_00000002-0000-4000-8000-000000000000', 'task_00000003-0000-4000-8000-000000000000'];
    let next = 0;
    const { service: withIds, queue, store } = setup({ newId: () => ids[next++]! });
    store.refuseInBatch.add(ids[0]!);
    queue.refuseInBatch.add(ids[1]!);
    const { results } = await withIds.submitBatch('alice', [ok('a'), ok('b'), ok('c')]);
    expect(results.map((result) => ('task' in result ? result.task.state : result.error.code))).toEqual(['unavailable', 'unavailable', 'PENDING']);
    expect(store.tasks.get(ids[1]!)).toMatchObject({ state: 'FAILURE', error: { code: 'enqueue_failed' } });
    expect(store.tasks.has(ids[0]!)).toBe(false);
  });

  it('fails the whole batch with 503 when no item could be accepted, and frees its key', async () => {
    const { service, queue, idempotency } = setup();
    queue.failing = true;
    await expect(service.submitBatch('alice', [ok('a')], { key: 'k', requestDigest: 'd' })).rejects.toBeInstanceOf(UnavailableError);
    expect(idempotency.claims.size).toBe(0);
    queue.failing = false;
    await expect(service.submitBatch('alice', [ok('a')], { key: 'k', requestDigest: 'd' })).resolves.toMatchObject({ replayed: false });
  });

  it('keeps an item accepted whose record was written but could not be marked failed: the sweeper queues it', async () => {
    const id = 'task_00000009-0000-4000-8000-000000000000';
    const { service, store, queue } = setup({ newId: () => id });
    queue.refuseInBatch.add(id);
    store.failNext('transition');
    const { results } = await service.submitBatch('alice', [ok('a')]);
    expect(results).toEqual([{ task: expect.objectContaining({ id, state: 'PENDING' }) }]);
  });

  it('frees a key whose first request died before it wrote any task, once that request is long gone', async () => {
    const { service, idempotency, clock, store } = setup();
    idempotency.claims.set(idempotencyClaimId('alice', 'k'), {
      id: idempotencyClaimId('alice', 'k'),
      owner: 'alice',
      taskId: 'batch_dead',
      taskIds: ['task_0000000a-0000-4000-8000-000000000000'],
      requestDigest: 'd',
      createdAt: new Date(clock.now()).toISOString(),
      expiresAt: Math.floor(clock.now() / 1000) + 3600,
    });
    await expect(service.submitBatch('alice', [ok('a')], { key: 'k', requestDigest: 'd' })).rejects.toBeInstanceOf(RequestInProgressError);
    clock.ms += 2 * MINUTE;
    const { results, replayed } = await service.submitBatch('alice', [ok('a')], { key: 'k', requestDigest: 'd' });
    expect(replayed).toBe(false);
    expect(results).toEqual([{ task: expect.objectContaining({ state: 'PENDING' }) }]);
    expect(store.tasks.size).toBe(1);
  });

  it('keeps the key when a failed write may have been applied and could not be undone: a retry replays the tasks', async () => {
    const { service, store } = setup();
    // The bulk write lands, but is reported failed; the FAILURE marks that would undo it fail too.
    store.createMany = async (tasks) => {
      for (const task of tasks) store.tasks.set(task.id, structuredClone(task));
      return new Map(tasks.map((task) => [task.id, new UnavailableError('timed out')]));
    };
    store.failNext('transition', 2);
    await expect(service.submitBatch('alice', [ok('a'), ok('b')], { key: 'k', requestDigest: 'd' })).rejects.toBeInstanceOf(UnavailableError);
    const again = await service.submitBatch('alice', [ok('a'), ok('b')], { key: 'k', requestDigest: 'd' });
    expect(again.replayed).toBe(true);
    expect(again.results.map((result) => ('task' in result ? result.task.id : result.error.code))).toEqual([...store.tasks.keys()]);
  });

  it('answers a repeat at once as the first answer was, items not accepted included, once the first has answered', async () => {
    const ids = ['task_0000000b-0000-4000-8000-000000000000', 'task_0000000c-0000-4000-8000-000000000000'];
    let next = 0;
    const { service, store } = setup({ newId: () => ids[next++ % 2]! });
    store.refuseInBatch.add(ids[0]!);
    const first = await service.submitBatch('alice', [ok('a'), ok('b')], { key: 'k', requestDigest: 'd' });
    expect(first.results.map((result) => ('task' in result ? 'task' : result.error.code))).toEqual(['unavailable', 'task']);
    // No 409 while a minute passes: the claim says the first request has answered.
    await expect(service.submitBatch('alice', [ok('a'), ok('b')], { key: 'k', requestDigest: 'd' })).resolves.toEqual({ ...first, replayed: true });
  });

  it('answers a repeat with the same key and body with the same tasks, and a different body with 422', async () => {
    const { service, store } = setup();
    const items = [ok('a'), refused, ok('b')];
    const first = await service.submitBatch('alice', items, { key: 'k', requestDigest: 'd1' });
    const again = await service.submitBatch('alice', items, { key: 'k', requestDigest: 'd1' });
    expect(again).toEqual({ results: first.results, replayed: true });
    expect(store.tasks.size).toBe(2);
    await expect(service.submitBatch('alice', items, { key: 'k', requestDigest: 'd2' })).rejects.toBeInstanceOf(IdempotencyKeyReusedError);
    await expect(service.submitOnce('alice', 'k', input('a'), 0)).rejects.toBeInstanceOf(IdempotencyKeyReusedError);
  });

  it('makes one batch of 20 concurrent requests with one key', async () => {
    const { service, store } = setup();
    const items = [ok('a'), ok('b')];
    const answers = await Promise.allSettled(Array.from({ length: 20 }, () => service.submitBatch('alice', items, { key: 'k', requestDigest: 'd' })));
    expect(store.tasks.size).toBe(2);
    for (const answer of answers) {
      if (answer.status === 'rejected') expect(answer.reason).toBeInstanceOf(RequestInProgressError);
      else expect(answer.value.results.map((result) => ('task' in result ? result.task.id : ''))).toEqual([...store.tasks.keys()]);
    }
  });
});
