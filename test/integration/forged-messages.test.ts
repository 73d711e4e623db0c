import { GetQueueAttributesCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DynamoDbTaskStore } from '../../lib/aws/dynamodb-task-store.ts';
import { createSqsBatchHandler } from '../../lib/aws/sqs-batch-handler.ts';
import type { Task } from '../../lib/tasks/task.ts';
import { TaskWorker } from '../../lib/tasks/task-worker.ts';
import { SqsEventSource } from '../../local/event-source.ts';
import { REGION } from '../../local/settings.ts';
import { useEmulators } from '../support/emulators.ts';
import { eventually } from '../support/eventually.ts';
import { messageBodyFor, pendingTask } from '../support/task-fixtures.ts';
import { startTaskWorkerSource } from '../support/task-worker-source.ts';
import { catalog } from '../support/catalog.ts';

/** A poison message takes 3 receives of 1 s each to reach the dead-letter queue. */
const SETTLE = { timeoutMs: 15_000 } as const;

/**
 * Messages that name a real task but do not come from it, sent straight to the queues as anyone with
 * sqs:SendMessage could, through the event source, the batch handler and the worker over dynalite:
 * none of them may change the task. The genuine message still completes it afterwards.
 */
describe('forged and mismatched queue messages (fauxqs + dynalite)', () => {
  const emulators = useEmulators({ visibilityTimeoutSeconds: 1, each: true });
  let store: DynamoDbTaskStore;
  let sources: SqsEventSource[];

  beforeEach(() => {
    store = new DynamoDbTaskStore({ client: emulators.documents, tableName: emulators.tableName });
    sources = [startTaskWorkerSource({ sqs: emulators.sqs, queues: emulators.queues, store })];
    const deadLetters = new TaskWorker({ catalog, store });
    const deadLetterSource = new SqsEventSource({
      sqs: emulators.sqs,
      queueUrl: emulators.queues.deadLetterQueueUrl,
      queueArn: emulators.queues.deadLetterQueueArn,
      region: REGION,
      batchSize: 10,
      maxConcurrency: 1,
      invoke: createSqsBatchHandler((record) => deadLetters.failExhausted(record.body)),
    });
    deadLetterSource.start();
    sources.push(deadLetterSource);
  });

  afterEach(async () => {
    await Promise.all(sources.map((source) => source.stop()));
  });

  const send = (queueUrl: string, body: string) => emulators.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));

  async function drained(queueUrl: string): Promise<void> {
    await eventually(async () => {
      const { Attributes } = await emulators.sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: queueUrl,
          AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
        }),
      );
      expect([Attributes?.ApproximateNumberOfMessages, Attributes?.ApproximateNumberOfMessagesNotVisible]).toEqual(['0', '0']);
    }, SETTLE);
  }

  /** Records an open task, as the API would, without queueing it. */
  async function openTask(overrides: Partial<Task> = {}): Promise<Task> {
    const task = pendingTask({ name: 'add', args: ['1', '2'], ...overrides });
    await store.create(task);
    return task;
  }

  it('ignores a message that carries another input under a real task id, then completes the task from its own message', async () => {
    const task = await openTask();
    await send(emulators.queues.taskQueueUrl, JSON.stringify({ taskId: task.id, name: 'mul', args: ['666', '1000'] }));
    await drained(emulators.queues.taskQueueUrl);
    await expect(store.get(task.id)).resolves.toEqual(task);

    await send(emulators.queues.taskQueueUrl, messageBodyFor(task));
    await eventually(async () => expect(await store.get(task.id)).toMatchObject({ state: 'SUCCESS', result: 3 }), SETTLE);
  });

  it.each([
    ['args that are not integers', (id: string) => JSON.stringify({ taskId: id, name: 'add', args: ['x'] })],
    ['the same args written differently', (id: string) => JSON.stringify({ taskId: id, name: 'add', args: ['01', '2'] })],
    ['an unknown task name', (id: string) => JSON.stringify({ taskId: id, name: 'pow', args: ['1', '2'] })],
    ['numbers where the schema wants strings', (id: string) => JSON.stringify({ taskId: id, name: 'add', args: [1, 2] })],
  ])('changes no task for a message with %s', async (_label, forge) => {
    const task = await openTask();
    await send(emulators.queues.taskQueueUrl, forge(task.id));
    // A schema-invalid body goes round the queue three times and ends in the dead-letter queue,
    // whose handler drops it: wait for both queues to be empty.
    await drained(emulators.queues.taskQueueUrl);
    await drained(emulators.queues.deadLetterQueueUrl);
    await expect(store.get(task.id)).resolves.toEqual(task);
  });

  it('does not fail a never-attempted task for a message put straight on the dead-letter queue', async () => {
    const task = await openTask();
    await send(emulators.queues.deadLetterQueueUrl, messageBodyFor(task));
    await drained(emulators.queues.deadLetterQueueUrl);
    await expect(store.get(task.id)).resolves.toEqual(task);
  });
});
