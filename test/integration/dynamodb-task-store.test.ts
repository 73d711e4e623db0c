import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createDynamoDbDocumentClient } from '../../lib/aws/clients.ts';
import { DynamoDbTaskStore } from '../../lib/aws/dynamodb-task-store.ts';
import { UnavailableError } from '../../lib/errors.ts';
import { RUNNABLE_STATES, type Task } from '../../lib/tasks/task.ts';
import { TaskWorker } from '../../lib/tasks/task-worker.ts';
import { startTestEmulators, type TestEmulators, unreachableDocumentClient } from '../support/emulators.ts';
import { messageBodyFor, pendingTask } from '../support/task-fixtures.ts';
import { catalog } from '../support/catalog.ts';

const AT = '2030-01-02T03:04:05.000Z';

describe('DynamoDbTaskStore against dynalite', () => {
  let emulators: TestEmulators;
  let store: DynamoDbTaskStore;

  beforeAll(async () => {
    emulators = await startTestEmulators();
    store = new DynamoDbTaskStore({ client: emulators.documents, tableName: emulators.tableName });
  });

  afterAll(async () => {
    await emulators?.stop();
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
    ] as const)('rejects %s with code unavailable and keeps the connection error as cause', async (_, call) => {
      const error = await call(unreachable).then(
        () => undefined,
        (rejection: unknown) => rejection,
      );

      expect(error).toBeInstanceOf(UnavailableError);
      expect(error).toMatchObject({ code: 'unavailable', cause: { code: 'ECONNREFUSED' } });
    });
  });
});
