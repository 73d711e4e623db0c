import { PurgeQueueCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbTaskStore } from '../../lib/aws/dynamodb-task-store.ts';
import { SqsTaskQueue } from '../../lib/aws/sqs-task-queue.ts';
import { TaskSweeper } from '../../lib/tasks/task-sweeper.ts';
import { systemClock } from '../../lib/clock.ts';
import { createTestTasks } from '../support/app-harness.ts';
import { useEmulators } from '../support/emulators.ts';
import { startTaskWorkerSource } from '../support/task-worker-source.ts';
import { eventually } from '../support/eventually.ts';
import { pendingTask } from '../support/task-fixtures.ts';

describe('the open-tasks index and the sweeper (dynalite + fauxqs)', () => {
  const emulators = useEmulators({ visibilityTimeoutSeconds: 1 });
  let store: DynamoDbTaskStore;

  beforeAll(() => {
    store = new DynamoDbTaskStore({ client: emulators.documents, tableName: emulators.tableName });
  });

  it('lists open tasks created up to a time, and drops them once they end', async () => {
    const early = pendingTask({ createdAt: '2031-01-01T00:00:00.000Z' });
    const late = pendingTask({ createdAt: '2031-01-01T00:10:00.000Z' });
    const ended = pendingTask({ createdAt: '2031-01-01T00:00:00.000Z' });
    for (const task of [early, late, ended]) await store.create(task);
    await store.transition(ended.id, { from: ['PENDING'], to: 'SUCCESS', at: '2031-01-01T00:00:01.000Z', result: '3' });

    const open = await store.listOpen('2031-01-01T00:05:00.000Z', 1_000);
    expect(open).toContain(early.id);
    expect(open).not.toContain(late.id);
    expect(open).not.toContain(ended.id);
    // The index is internal: reads return the task without it.
    expect(Object.keys((await store.get(early.id))!)).not.toContain('openShard');
  });

  it('records a requeue only from the count it was read at, and only while open', async () => {
    const task = pendingTask();
    await store.create(task);
    expect(await store.recordRequeue(task.id, 0, '2031-01-01T00:00:00.000Z')).toBe(true);
    expect(await store.recordRequeue(task.id, 0, '2031-01-01T00:00:00.000Z')).toBe(false);
    expect(await store.recordRequeue(task.id, 1, '2031-01-01T00:01:00.000Z')).toBe(true);
    expect(await store.get(task.id)).toMatchObject({ requeues: 2, requeuedAt: '2031-01-01T00:01:00.000Z' });
    await store.transition(task.id, { from: ['PENDING'], to: 'FAILURE', at: '2031-01-01T00:02:00.000Z', error: { code: 'x', message: 'y' } });
    expect(await store.recordRequeue(task.id, 2, '2031-01-01T00:03:00.000Z')).toBe(false);
  });

  it('finishes a task whose queued message was lost', async () => {
    const queue = new SqsTaskQueue({ client: emulators.sqs, queueUrl: emulators.queues.taskQueueUrl });
    const { tasks: service } = createTestTasks({ store, queue, clock: systemClock, taskTtlSeconds: 3600 });
    const submitted = await service.submit('alice', { name: 'add', args: [20, 22] }, 0);
    // The message vanishes before any worker sees it (a purged or recreated queue).
    await emulators.sqs.send(new PurgeQueueCommand({ QueueUrl: emulators.queues.taskQueueUrl }));

    const source = startTaskWorkerSource({ sqs: emulators.sqs, queues: emulators.queues, store });
    try {
      // A sweep run as if the stale period had passed.
      const clock = { now: () => Date.parse(submitted.createdAt) + 301_000 };
      const sweeper = new TaskSweeper({ store, queue, staleAfterSeconds: 300, clock });
      expect((await sweeper.sweep()).requeued).toBeGreaterThanOrEqual(1);
      await eventually(async () => expect(await store.get(submitted.id)).toMatchObject({ state: 'SUCCESS', result: 42 }), {
        timeoutMs: 10_000,
      });
    } finally {
      await source.stop();
    }
  });
});

describe('TaskSweeper.requeueNow (dynalite + fauxqs)', () => {
  const emulators = useEmulators();

  it('queues each open task it is given once, at once, whatever its backoff, and nothing that has ended, expired or is gone', async () => {
    const store = new DynamoDbTaskStore({ client: emulators.documents, tableName: emulators.tableName });
    const open = Array.from({ length: 30 }, (_, i) => pendingTask({ args: [String(i), '1'], ...(i % 3 === 0 && { state: 'RETRY' as const }) }));
    const ended = pendingTask({ state: 'SUCCESS', result: 2 });
    const expired = pendingTask({ expiresAt: Math.floor(Date.now() / 1000) - 1 });
    for (const task of [...open, ended, expired]) await store.create(task);
    // Requeued a moment ago by a sweep: its backoff does not hold requeueNow back.
    await store.recordRequeue(open[0]!.id, 0, new Date().toISOString());

    const queue = new SqsTaskQueue({ client: emulators.sqs, queueUrl: emulators.queues.taskQueueUrl });
    const ids = [...open, ended, expired].map((task) => task.id);
    ids.push('task_00000000-0000-4000-8000-000000000000');
    expect(await new TaskSweeper({ store, queue, staleAfterSeconds: 300 }).requeueNow(ids)).toBe(30);

    const received: string[] = [];
    for (;;) {
      const { Messages = [] } = await emulators.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: emulators.queues.taskQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
      );
      if (Messages.length === 0) break;
      received.push(...Messages.map((message) => (JSON.parse(message.Body!) as { taskId: string }).taskId));
    }
    expect(received.sort()).toEqual(open.map((task) => task.id).sort());
  });
});
