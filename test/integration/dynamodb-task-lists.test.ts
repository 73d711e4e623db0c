/**
 * The store's lists, read from its indexes on dynalite: an owner's tasks page by page (owner-tasks)
 * and the scheduler's due tasks (due-tasks). Each test has a table of its own, so what it lists is
 * only what it wrote.
 */
import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { DynamoDbTaskStore } from '../../lib/aws/dynamodb-task-store.ts';
import type { ListPosition, OwnerTaskQuery } from '../../lib/ports.ts';
import type { Task } from '../../lib/tasks/task.ts';
import { createTaskTable } from '../../local/provision.ts';
import { useEmulators } from '../support/emulators.ts';
import { pendingTask } from '../support/task-fixtures.ts';

const BASE_MS = Date.parse('2030-03-04T05:06:07.000Z');
const NOW_MS = BASE_MS + 60_000;

describe('DynamoDbTaskStore lists against dynalite', () => {
  const emulators = useEmulators();

  /** A store on a new, empty table of the same emulator. */
  async function freshStore(): Promise<{ store: DynamoDbTaskStore; tableName: string }> {
    const tableName = `tasks-${Math.random().toString(36).slice(2, 10)}`;
    await createTaskTable(emulators.dynamodb, tableName);
    return { store: new DynamoDbTaskStore({ client: emulators.documents, tableName }), tableName };
  }

  async function recordAll(store: DynamoDbTaskStore, tasks: readonly Task[]): Promise<void> {
    expect((await store.createMany(tasks)).size).toBe(0);
  }

  /** A task of `owner` created `offsetMs` after BASE_MS, live until an hour after NOW_MS. */
  function taskAt(owner: string, offsetMs: number, overrides: Partial<Task> = {}): Task {
    const at = new Date(BASE_MS + offsetMs).toISOString();
    return pendingTask({ owner, createdAt: at, updatedAt: at, expiresAt: NOW_MS / 1000 + 3_600, ...overrides });
  }

  /** Newest first: by createdAt, then by id, both descending. */
  const newestFirst = (tasks: readonly Task[]): string[] =>
    [...tasks].sort((a, b) => `${b.createdAt}#${b.id}`.localeCompare(`${a.createdAt}#${a.id}`)).map((task) => task.id);

  /** Every page of a query, with the limits given in turn (the last one repeated). */
  async function readAllPages(store: DynamoDbTaskStore, query: Omit<OwnerTaskQuery, 'limit' | 'after'>, limits: number[]) {
    const pages: { ids: string[]; next?: ListPosition }[] = [];
    let after: ListPosition | undefined;
    do {
      const limit = limits[Math.min(pages.length, limits.length - 1)]!;
      const page = await store.listByOwner({ ...query, limit, after });
      pages.push({ ids: page.tasks.map((task) => task.id), next: page.next });
      after = page.next;
      if (pages.length > 100) throw new Error('the pages never end');
    } while (after);
    return pages;
  }

  describe('listByOwner', () => {
    it('pages 250 tasks newest first without a gap or a repeat, ties of createdAt by id, and never another owner’s task', async () => {
      const { store } = await freshStore();
      // Three tasks in each millisecond, so many pages start or end inside a tie.
      const alice = Array.from({ length: 250 }, (_, i) => taskAt('alice', Math.floor(i / 3)));
      const bob = Array.from({ length: 40 }, (_, i) => taskAt('bob', i * 2));
      await recordAll(store, [...alice, ...bob]);

      const pages = await readAllPages(store, { owner: 'alice', nowMs: NOW_MS }, [100, 37, 100]);

      expect(pages.map((page) => page.ids.length)).toEqual([100, 37, 100, 13]);
      expect(pages.flatMap((page) => page.ids)).toEqual(newestFirst(alice));
      expect(pages.at(-1)!.next).toBeUndefined();
      const byId = new Map(alice.map((task) => [task.id, task]));
      for (const page of pages.slice(0, -1)) {
        const last = byId.get(page.ids.at(-1)!)!;
        expect(page.next).toEqual({ createdAt: last.createdAt, id: last.id });
      }
    });

    it('returns whole tasks as get does, without the store’s own attributes', async () => {
      const { store } = await freshStore();
      const task = taskAt('carol', 0, { state: 'SUCCESS', result: { sum: 5 }, progress: { fraction: 1, at: 'x' } });
      await store.create(task);

      const page = await store.listByOwner({ owner: 'carol', limit: 10, nowMs: NOW_MS });

      expect(page).toEqual({ tasks: [task] });
      expect(page.tasks[0]).toEqual(await store.get(task.id));
    });

    it('answers an owner with no task with an empty page and no next', async () => {
      const { store } = await freshStore();
      await recordAll(store, [taskAt('alice', 0)]);

      await expect(store.listByOwner({ owner: 'nobody', limit: 10, nowMs: NOW_MS })).resolves.toEqual({ tasks: [] });
    });

    it('keeps only the tasks in `state` and named `name`, page by page', async () => {
      const { store } = await freshStore();
      const tasks = Array.from({ length: 90 }, (_, i) =>
        taskAt('alice', i, {
          name: i % 2 === 0 ? 'add' : 'mul',
          state: i % 3 === 0 ? 'SUCCESS' : 'PENDING',
          ...(i % 3 === 0 && { result: i }),
        }),
      );
      await recordAll(store, tasks);

      const successes = tasks.filter((task) => task.state === 'SUCCESS');
      const muls = tasks.filter((task) => task.name === 'mul');
      const successfulMuls = successes.filter((task) => task.name === 'mul');
      const ids = async (query: Omit<OwnerTaskQuery, 'limit' | 'after'>) =>
        (await readAllPages(store, query, [7])).flatMap((page) => page.ids);

      expect(await ids({ owner: 'alice', nowMs: NOW_MS, state: 'SUCCESS' })).toEqual(newestFirst(successes));
      expect(await ids({ owner: 'alice', nowMs: NOW_MS, name: 'mul' })).toEqual(newestFirst(muls));
      expect(await ids({ owner: 'alice', nowMs: NOW_MS, state: 'SUCCESS', name: 'mul' })).toEqual(newestFirst(successfulMuls));
      expect(await ids({ owner: 'alice', nowMs: NOW_MS, state: 'CANCELLED' })).toEqual([]);
    });

    it('leaves out tasks that expired by nowMs, to the second', async () => {
      const { store } = await freshStore();
      const nowSeconds = Math.floor(NOW_MS / 1000);
      const expired = taskAt('alice', 1, { expiresAt: nowSeconds });
      const live = taskAt('alice', 2, { expiresAt: nowSeconds + 1 });
      await recordAll(store, [expired, live]);

      const page = await store.listByOwner({ owner: 'alice', limit: 10, nowMs: NOW_MS + 999 });

      expect(page.tasks.map((task) => task.id)).toEqual([live.id]);
    });

    it('goes on from a position whose task is gone since (expired and deleted by the TTL)', async () => {
      const { store, tableName } = await freshStore();
      const tasks = Array.from({ length: 10 }, (_, i) => taskAt('alice', i));
      await recordAll(store, tasks);
      const first = await store.listByOwner({ owner: 'alice', limit: 4, nowMs: NOW_MS });
      await emulators.documents.send(new DeleteCommand({ TableName: tableName, Key: { id: first.next!.id } }));

      const second = await store.listByOwner({ owner: 'alice', limit: 4, nowMs: NOW_MS, after: first.next });

      expect(second.tasks.map((task) => task.id)).toEqual(newestFirst(tasks).slice(4, 8));
    });

    it('stops after examining 1,000 items for a filter that matches few, with a next where it stopped', async () => {
      const { store } = await freshStore();
      const oldest = taskAt('alice', 0, { name: 'mul' });
      const newer = Array.from({ length: 1_010 }, (_, i) => taskAt('alice', 1 + i, { name: 'add' }));
      await recordAll(store, [oldest, ...newer]);

      const first = await store.listByOwner({ owner: 'alice', name: 'mul', limit: 10, nowMs: NOW_MS });

      // Nothing matched in the 1,000 newest: an empty page, but not the end.
      const thousandth = newer.find((task) => task.id === newestFirst(newer)[999])!;
      expect(first).toEqual({ tasks: [], next: { createdAt: thousandth.createdAt, id: thousandth.id } });
      const second = await store.listByOwner({ owner: 'alice', name: 'mul', limit: 10, nowMs: NOW_MS, after: first.next });
      expect(second).toEqual({ tasks: [oldest] });
    });

    it('stops after reading about 1 MB, with a next where it stopped, and the pages still cover every task', async () => {
      const { store } = await freshStore();
      // About 100 KB each: a DynamoDB Query reads at most 1 MB a call, and the budget is 1 MB a list.
      const big = Array.from({ length: 25 }, (_, i) => taskAt('alice', i, { name: 'add', args: ['x'.repeat(100 * 1024)] }));
      const small = taskAt('alice', -1, { name: 'mul' });
      await recordAll(store, [small, ...big]);

      const pages = await readAllPages(store, { owner: 'alice', name: 'mul', nowMs: NOW_MS }, [10]);

      expect(pages.length).toBeGreaterThanOrEqual(3);
      expect(pages.slice(0, -1).every((page) => page.ids.length === 0 && page.next !== undefined)).toBe(true);
      expect(pages.flatMap((page) => page.ids)).toEqual([small.id]);
    });
  });

  describe('listDue', () => {
    it('lists the due SCHEDULED tasks, soonest first across shards, at most `limit`', async () => {
      const { store } = await freshStore();
      const runAt = (minute: number) => new Date(BASE_MS + minute * 60_000).toISOString();
      const scheduled = Array.from({ length: 24 }, (_, i) => taskAt('alice', 0, { state: 'SCHEDULED', runAt: runAt(24 - i) }));
      await recordAll(store, [...scheduled, taskAt('alice', 0)]);
      const soonestFirst = [...scheduled].sort((a, b) => a.runAt!.localeCompare(b.runAt!)).map((task) => task.id);

      expect(await store.listDue(runAt(30), 100)).toEqual(soonestFirst);
      expect(await store.listDue(runAt(30), 5)).toEqual(soonestFirst.slice(0, 5));
      expect(await store.listDue(runAt(10), 100)).toEqual(soonestFirst.slice(0, 10));
      expect(await store.listDue(runAt(0), 100)).toEqual([]);
      expect(await store.listDue(runAt(30), 0)).toEqual([]);
    });
  });
});
