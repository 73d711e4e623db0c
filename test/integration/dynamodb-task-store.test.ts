import { BatchWriteCommand, type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createDynamoDbDocumentClient } from '../../lib/aws/clients.ts';
import { DynamoDbTaskStore } from '../../lib/aws/dynamodb-task-store.ts';
import { UnavailableError } from '../../lib/errors.ts';
import { CANCELLABLE_STATES, RUNNABLE_STATES, type Task } from '../../lib/tasks/task.ts';
import { TaskWorker } from '../../lib/tasks/task-worker.ts';
import { unreachableDocumentClient, useEmulators } from '../support/emulators.ts';
import { messageBodyFor, pendingTask } from '../support/task-fixtures.ts';
import { catalog } from '../support/catalog.ts';

// A minute from now: within the life of the tasks the tests record (an hour), as a worker's writes must be.
const AT = new Date(Date.now() + 60_000).toISOString();

describe('DynamoDbTaskStore against dynalite', () => {
  const emulators = useEmulators();
  let store: DynamoDbTaskStore;

  beforeAll(() => {
    store = new DynamoDbTaskStore({ client: emulators.documents, tableName: emulators.tableName });
  });

  describe('create and get', () => {
    it('takes its own item met again as recorded (an SDK retry of a write that was applied), and refuses another', async () => {
      const task = pendingTask({ name: 'add', args: [1, 2] });
      await store.create(task);
      await expect(store.create(task)).resolves.toBeUndefined();
      await expect(store.create({ ...task, args: [1, 3] })).rejects.toMatchObject({ code: 'unavailable' });
      await expect(store.create({ ...task, owner: 'mallory' })).rejects.toMatchObject({ code: 'unavailable' });
      expect(await store.get(task.id)).toEqual(task);
    });

    it('reads back a finished task with every field, the error map and a numeric expiresAt', async () => {
      const failed = pendingTask({
        name: 'mul',
        args: ['-12345678901234567890123456789', '0', '42'],
        state: 'FAILURE',
        error: { code: 'result_too_large', message: 'the product could have 20000 digits' },
        updatedAt: AT,
      });
      const succeeded = pendingTask({ state: 'SUCCESS', result: '98765432109876543210987654321', updatedAt: AT });

      await store.create(failed);
      await store.create(succeeded);

      const readFailed = await store.get(failed.id);
      expect(readFailed).toEqual(failed);
      expect(typeof readFailed?.expiresAt).toBe('number');
      await expect(store.get(succeeded.id)).resolves.toEqual(succeeded);
    });

    it('returns undefined for an id that was never stored', async () => {
      await expect(store.get(pendingTask().id)).resolves.toBeUndefined();
    });

    it('refuses a second task with an existing id and keeps the first', async () => {
      const task = pendingTask();
      await store.create(task);

      await expect(store.create({ ...task, owner: 'mallory', args: ['666'] })).rejects.toMatchObject({
        code: 'unavailable',
      });
      await expect(store.get(task.id)).resolves.toEqual(task);
    });
  });

  describe('transition', () => {
    it('moves a task from an allowed state and returns the updated task', async () => {
      const task = pendingTask();
      await store.create(task);

      const retrying = await store.transition(task.id, { from: ['PENDING'], to: 'RETRY', at: AT });

      expect(retrying).toEqual({ ...task, state: 'RETRY', updatedAt: AT });
      await expect(store.get(task.id)).resolves.toEqual(retrying);
    });

    it('writes the result or the error together with the terminal state', async () => {
      const succeeding = pendingTask();
      const failing = pendingTask({ state: 'RETRY' });
      await store.create(succeeding);
      await store.create(failing);
      const error = { code: 'retries_exhausted', message: 'gave up' };

      const succeeded = await store.transition(succeeding.id, { from: RUNNABLE_STATES, to: 'SUCCESS', at: AT, result: '5' });
      const failed = await store.transition(failing.id, { from: RUNNABLE_STATES, to: 'FAILURE', at: AT, error });

      expect(succeeded).toEqual({ ...succeeding, state: 'SUCCESS', updatedAt: AT, result: '5' });
      expect(failed).toEqual({ ...failing, state: 'FAILURE', updatedAt: AT, error });
      await expect(store.get(succeeding.id)).resolves.toEqual(succeeded);
      await expect(store.get(failing.id)).resolves.toEqual(failed);
    });

    it('returns undefined and leaves the item unchanged when the task is in a state not listed in from', async () => {
      const task = pendingTask({ state: 'RETRY' });
      await store.create(task);

      await expect(store.transition(task.id, { from: ['PENDING'], to: 'RETRY', at: AT })).resolves.toBeUndefined();
      await expect(store.get(task.id)).resolves.toEqual(task);
    });

    it('moves a task only while its record holds the input the change names', async () => {
      const task = pendingTask({ name: 'add', args: ['1', '2'] });
      await store.create(task);
      const change = { from: RUNNABLE_STATES, to: 'SUCCESS' as const, at: AT, result: '666000' };

      for (const input of [
        { name: 'mul', args: ['1', '2'] },
        { name: 'add', args: ['01', '2'] },
        { name: 'add', args: ['2', '1'] },
        { name: 'add', args: ['1', '2', '0'] },
      ]) {
        await expect(store.transition(task.id, { ...change, input })).resolves.toBeUndefined();
      }
      await expect(store.get(task.id)).resolves.toEqual(task);
      await expect(store.transition(task.id, { ...change, result: '3', input: { name: 'add', args: ['1', '2'] } })).resolves.toMatchObject({
        state: 'SUCCESS',
        result: '3',
      });
    });

    it('matches a task recorded without an input digest (by the previous release) on its name alone', async () => {
      const task = pendingTask({ name: 'add', args: ['1', '2'] });
      await emulators.documents.send(new PutCommand({ TableName: emulators.tableName, Item: { ...task } }));
      const change = { from: RUNNABLE_STATES, to: 'SUCCESS' as const, at: AT, result: '3' };
      await expect(store.transition(task.id, { ...change, input: { name: 'mul', args: ['1', '2'] } })).resolves.toBeUndefined();
      await expect(store.transition(task.id, { ...change, input: { name: 'add', args: ['1', '2'] } })).resolves.toMatchObject({ state: 'SUCCESS' });
    });

    it('returns undefined for a missing id and does not create the item', async () => {
      const missing = pendingTask();

      await expect(
        store.transition(missing.id, { from: RUNNABLE_STATES, to: 'SUCCESS', at: AT, result: '1' }),
      ).resolves.toBeUndefined();
      await expect(store.get(missing.id)).resolves.toBeUndefined();
    });

    it.each<Pick<Task, 'state' | 'result' | 'error'>>([
      { state: 'SUCCESS', result: 5 },
      { state: 'FAILURE', error: { code: 'invalid_args', message: 'args[0] is not an integer' } },
    ])('never overwrites a task that ended in $state', async (ending) => {
      const task = pendingTask(ending);
      await store.create(task);
      const attempts = [
        { from: ['PENDING' as const], to: 'RETRY' as const, at: AT },
        { from: RUNNABLE_STATES, to: 'SUCCESS' as const, at: AT, result: '6' },
        { from: RUNNABLE_STATES, to: 'FAILURE' as const, at: AT, error: { code: 'retries_exhausted', message: 'x' } },
      ];

      for (const change of attempts) await expect(store.transition(task.id, change)).resolves.toBeUndefined();
      await expect(new TaskWorker({ catalog, store }).failExhausted(messageBodyFor(task))).resolves.toBe('skipped');
      await expect(new TaskWorker({ catalog, store }).process(messageBodyFor(task))).resolves.toBe('skipped');
      await expect(store.get(task.id)).resolves.toEqual(task);
    });
  });

  describe('createMany', () => {
    it('records 60 tasks, PENDING and SCHEDULED, in batches of 25, and reads each back as it was given', async () => {
      const tasks = Array.from({ length: 60 }, (_, i) =>
        i % 3 === 0 ? pendingTask({ state: 'SCHEDULED', runAt: '2031-01-01T00:00:00.000Z', args: [i, 1] }) : pendingTask({ args: [i, 2] }),
      );

      expect(ids(await store.createMany(tasks))).toEqual(new Set());

      for (const task of tasks) await expect(store.get(task.id)).resolves.toEqual(task);
    });

    it('writes the index keys create writes: listKey on every task, dueShard instead of openShard on a SCHEDULED one', async () => {
      const scheduled = pendingTask({ state: 'SCHEDULED', runAt: '2031-01-01T00:00:00.000Z' });
      const pending = pendingTask();
      const created = pendingTask({ state: 'SCHEDULED', runAt: '2031-01-01T00:00:00.000Z' });
      await store.createMany([scheduled, pending]);
      await store.create(created);

      const [batchScheduled, batchPending, single] = await Promise.all([scheduled, pending, created].map(({ id }) => rawItem(id)));
      expect(batchScheduled).toMatchObject({ listKey: `${scheduled.createdAt}#${scheduled.id}`, dueShard: expect.stringMatching(/^due#[0-7]$/) });
      expect(batchScheduled).not.toHaveProperty('openShard');
      expect(batchPending).toMatchObject({ listKey: `${pending.createdAt}#${pending.id}`, openShard: expect.stringMatching(/^open#[0-7]$/) });
      expect(batchPending).not.toHaveProperty('dueShard');
      expect(Object.keys(single!).sort()).toEqual(Object.keys(batchScheduled!).sort());
    });

    it('reports every task of a call DynamoDB refused as not recorded (one item over 400 KB), and records the other calls', async () => {
      const tasks = Array.from({ length: 30 }, (_, i) => pendingTask({ args: [i] }));
      tasks[3] = pendingTask({ args: ['x'.repeat(410 * 1024)] });

      const unrecorded = await store.createMany(tasks);

      expect(ids(unrecorded)).toEqual(new Set(tasks.slice(0, 25).map((task) => task.id)));
      for (const task of tasks.slice(25)) await expect(store.get(task.id)).resolves.toEqual(task);
      await expect(store.get(tasks[0]!.id)).resolves.toBeUndefined();
    });

    it('sends unprocessed items again until they are written', async () => {
      const throttled = throttlingClient(emulators.documents, { unprocessedCalls: 2 });
      const tasks = Array.from({ length: 10 }, () => pendingTask());

      expect(ids(await new DynamoDbTaskStore({ client: throttled.client, tableName: emulators.tableName }).createMany(tasks))).toEqual(new Set());

      expect(throttled.batchSizes).toEqual([10, 5, 2]);
      for (const task of tasks) await expect(store.get(task.id)).resolves.toEqual(task);
    });

    it('gives up on items left unprocessed after 5 more tries and reports only those', async () => {
      const throttled = throttlingClient(emulators.documents, { unprocessedCalls: Infinity });
      const tasks = Array.from({ length: 4 }, () => pendingTask());

      const unrecorded = await new DynamoDbTaskStore({ client: throttled.client, tableName: emulators.tableName }).createMany(tasks);

      expect(throttled.batchSizes).toHaveLength(6);
      expect(unrecorded.size).toBe(1);
      for (const task of tasks) {
        await expect(store.get(task.id)).resolves.toEqual(unrecorded.has(task.id) ? undefined : task);
      }
    });

    it('refuses a SCHEDULED task without a runAt before writing anything: it could never be found to run', async () => {
      const fine = pendingTask();
      const broken = pendingTask({ state: 'SCHEDULED' });

      await expect(store.createMany([fine, broken])).rejects.toBeInstanceOf(TypeError);
      await expect(store.create(broken)).rejects.toBeInstanceOf(TypeError);
      await expect(store.get(fine.id)).resolves.toBeUndefined();
      await expect(store.get(broken.id)).resolves.toBeUndefined();
    });
  });

  describe('scheduled tasks and the indexes', () => {
    const RUN_AT = '2032-05-06T07:08:09.000Z';
    const LATER = '2099-01-01T00:00:00.000Z';

    it('lists a SCHEDULED task as due from its runAt, never as open, until it is queued; then as open only', async () => {
      const task = pendingTask({ state: 'SCHEDULED', runAt: RUN_AT });
      await store.create(task);

      expect(await store.listDue('2032-05-06T07:08:08.999Z', 1_000)).not.toContain(task.id);
      expect(await store.listDue(RUN_AT, 1_000)).toContain(task.id);
      expect(await store.listOpen(LATER, 1_000)).not.toContain(task.id);
      await expect(store.recordRequeue(task.id, 0, RUN_AT)).resolves.toBe(false);

      const queued = await store.transition(task.id, { from: ['SCHEDULED'], to: 'PENDING', at: RUN_AT });

      expect(queued).toEqual({ ...task, state: 'PENDING', updatedAt: RUN_AT });
      expect(await store.listDue(LATER, 1_000)).not.toContain(task.id);
      expect(await store.listOpen(LATER, 1_000)).toContain(task.id);
      expect(await rawItem(task.id)).toMatchObject({ openShard: expect.stringMatching(/^open#[0-7]$/) });
      expect(await rawItem(task.id)).not.toHaveProperty('dueShard');
    });

    it('takes a cancelled SCHEDULED task out of the due list, and never puts it in the open one', async () => {
      const task = pendingTask({ state: 'SCHEDULED', runAt: RUN_AT });
      await store.create(task);

      await expect(store.transition(task.id, { from: CANCELLABLE_STATES, to: 'CANCELLED', at: RUN_AT })).resolves.toMatchObject({
        state: 'CANCELLED',
      });

      expect(await store.listDue(LATER, 1_000)).not.toContain(task.id);
      expect(await store.listOpen(LATER, 1_000)).not.toContain(task.id);
      const item = await rawItem(task.id);
      expect(item).not.toHaveProperty('openShard');
      expect(item).not.toHaveProperty('dueShard');
    });

    it('takes a task that ends (SUCCESS, FAILURE, CANCELLED) out of the open list', async () => {
      for (const to of ['SUCCESS', 'FAILURE', 'CANCELLED'] as const) {
        const task = pendingTask();
        await store.create(task);
        await store.transition(task.id, { from: CANCELLABLE_STATES, to, at: AT });
        expect(await store.listOpen(LATER, 1_000), to).not.toContain(task.id);
      }
    });

    it('leaves a SCHEDULED task due when a transition from SCHEDULED is refused', async () => {
      const task = pendingTask({ state: 'SCHEDULED', runAt: RUN_AT });
      await store.create(task);

      await expect(store.transition(task.id, { from: ['SCHEDULED'], to: 'PENDING', at: AT, input: { name: 'mul', args: task.args } })).resolves.toBeUndefined();

      expect(await store.listDue(RUN_AT, 1_000)).toContain(task.id);
      expect(await store.listOpen(LATER, 1_000)).not.toContain(task.id);
    });
  });

  describe('conditional writes under duplicate delivery', () => {
    it('records exactly one result when the same message is processed 10 times at once', async () => {
      const factors = ['123456789012345678901234567890', '-987654321', '1000000007'];
      const task = pendingTask({ name: 'mul', args: factors });
      await store.create(task);
      const worker = new TaskWorker({ catalog, store });
      const body = messageBodyFor(task);

      const outcomes = await Promise.all(Array.from({ length: 10 }, () => worker.process(body)));

      expect(outcomes.filter((outcome) => outcome === 'SUCCESS')).toHaveLength(1);
      expect(outcomes.filter((outcome) => outcome === 'skipped')).toHaveLength(9);
      const stored = await store.get(task.id);
      const product = factors.reduce((total, factor) => total * BigInt(factor), 1n);
      expect(stored).toMatchObject({ state: 'SUCCESS', result: product.toString() });
      expect(stored?.error).toBeUndefined();
    });
  });

  /** The item as stored, with the store's own attributes. */
  async function rawItem(id: string): Promise<Record<string, unknown> | undefined> {
    const { Item } = await emulators.documents.send(new GetCommand({ TableName: emulators.tableName, Key: { id }, ConsistentRead: true }));
    return Item;
  }

  it('answers a ping (the readiness probe) without creating any item', async () => {
    await expect(store.ping()).resolves.toBeUndefined();
    await expect(store.get('ready#probe')).resolves.toBeUndefined();
  });

  describe('when DynamoDB cannot be reached', () => {
    let unreachable: DynamoDbTaskStore;
    let client: ReturnType<typeof createDynamoDbDocumentClient>;

    beforeAll(async () => {
      client = await unreachableDocumentClient();
      unreachable = new DynamoDbTaskStore({ client, tableName: emulators.tableName });
    });

    afterAll(() => {
      client?.destroy();
      vi.unstubAllEnvs();
    });

    it.each([
      ['create', (store: DynamoDbTaskStore) => store.create(pendingTask())],
      ['get', (store: DynamoDbTaskStore) => store.get(pendingTask().id)],
      ['transition', (store: DynamoDbTaskStore) => store.transition(pendingTask().id, { from: ['PENDING'], to: 'RETRY', at: AT })],
      ['ping', (store: DynamoDbTaskStore) => store.ping()],
      ['listDue', (store: DynamoDbTaskStore) => store.listDue(AT, 10)],
      ['listByOwner', (store: DynamoDbTaskStore) => store.listByOwner({ owner: 'alice', limit: 10, nowMs: Date.now() })],
    ] as const)('rejects %s with code unavailable and keeps the connection error as cause', async (_, call) => {
      const error = await call(unreachable).then(
        () => undefined,
        (rejection: unknown) => rejection,
      );

      expect(error).toBeInstanceOf(UnavailableError);
      expect(error).toMatchObject({ code: 'unavailable', cause: { code: 'ECONNREFUSED' } });
    });

    it('resolves createMany with every id as not recorded, and does not reject', async () => {
      const tasks = Array.from({ length: 30 }, () => pendingTask());
      const unrecorded = await unreachable.createMany(tasks);
      expect(ids(unrecorded)).toEqual(new Set(tasks.map((task) => task.id)));
      // Each says why, with the SDK's error as its cause, for the log and the 503.
      expect([...unrecorded.values()][0]).toMatchObject({ code: 'unavailable', cause: expect.any(Error) });
    });
  });
});

/**
 * The document client, with DynamoDB throttling as dynalite never does: for its first
 * `unprocessedCalls` BatchWriteItem calls, only the first half of the items (rounded up; none of a
 * lone one) is written and the rest comes back as UnprocessedItems, as from a table over its
 * throughput. Every other call goes to dynalite untouched.
 */
function throttlingClient(inner: DynamoDBDocumentClient, options: { unprocessedCalls: number }) {
  const batchSizes: number[] = [];
  const client = {
    send: async (command: unknown) => {
      if (!(command instanceof BatchWriteCommand)) return inner.send(command as never);
      const [table, requests] = Object.entries(command.input.RequestItems!)[0]!;
      batchSizes.push(requests.length);
      if (batchSizes.length > options.unprocessedCalls) return inner.send(command);
      // A lone item is left whole; of more, the first half is written.
      if (requests.length === 1) return { UnprocessedItems: { [table]: requests } };
      const written = requests.slice(0, Math.ceil(requests.length / 2));
      await inner.send(new BatchWriteCommand({ RequestItems: { [table]: written } }));
      return { UnprocessedItems: { [table]: requests.slice(written.length) } };
    },
  } as unknown as DynamoDBDocumentClient;
  return { client, batchSizes };
}

/** The ids a bulk call left out (its result maps each to why). */
function ids(failed: ReadonlyMap<string, unknown>): Set<string> {
  return new Set(failed.keys());
}
