import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createDynamoDbDocumentClient, createSqsClient } from '../../lib/aws/clients.ts';
import { DynamoDbTaskStore } from '../../lib/aws/dynamodb-task-store.ts';
import { SqsTaskQueue } from '../../lib/aws/sqs-task-queue.ts';
import { systemClock } from '../../lib/clock.ts';
import type { TaskQueue } from '../../lib/ports.ts';
import { SqsEventSource } from '../../local/event-source.ts';
import { REGION } from '../../local/settings.ts';
import { startTaskWorkerSource } from '../support/task-worker-source.ts';
import { eventually } from '../support/eventually.ts';
import { CountingStore, type RestartableEmulators, report, startRestartableEmulators } from './support.ts';
import { type TestApp, createTestApp } from '../support/app-harness.ts';

/**
 * SQS or DynamoDB going away at each step of a task's life, with the production adapters and SDK
 * settings (timeouts, retries) against emulators that are stopped and started under them.
 */
describe('SQS and DynamoDB outages', () => {
  let emulators: RestartableEmulators;
  let store: CountingStore;
  let queue: SqsTaskQueue;
  let app: TestApp['app'];
  let token: string;
  let sources: SqsEventSource[] = [];

  beforeAll(() => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'local');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'local');
  });
  afterAll(() => vi.unstubAllEnvs());

  beforeEach(async () => {
    emulators = await startRestartableEmulators(1);
    const aws = { region: REGION, tableName: emulators.tableName, dynamodbEndpoint: emulators.dynamodbEndpoint, sqsEndpoint: emulators.sqsEndpoint };
    store = new CountingStore(new DynamoDbTaskStore({ client: createDynamoDbDocumentClient(aws), tableName: aws.tableName }));
    queue = new SqsTaskQueue({ client: createSqsClient(aws), queueUrl: emulators.queues.taskQueueUrl });
    const harness = buildApp(queue);
    app = harness.app;
    token = await harness.tokenFor('alice');
  });

  afterEach(async () => {
    await Promise.all(sources.map((source) => source.stop()));
    sources = [];
    await emulators.stop();
  });

  /** The app over the adapters under test, on the system clock; nothing consumes `taskQueue` but the workers a test starts. */
  function buildApp(taskQueue: TaskQueue) {
    return createTestApp({ store, queue: taskQueue, clock: systemClock, taskTtlSeconds: 3600 });
  }

  const submit = (body: unknown, query = '?wait=0') =>
    app.request(`/tasks${query}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  /** Records that failed in a worker invocation (and so will be delivered again). */
  let failedRecords = 0;

  function startWorker(): void {
    sources.push(
      startTaskWorkerSource({
        sqs: emulators.sqs,
        queues: emulators.queues,
        store,
        onResponse: (response) => (failedRecords += response.batchItemFailures.length),
      }),
    );
  }

  async function allTasks() {
    const { Items = [] } = await emulators.documents.send(new ScanCommand({ TableName: emulators.tableName, ConsistentRead: true }));
    return Items.filter((item) => String(item.id).startsWith('task_'));
  }

  async function queuedMessages(): Promise<number> {
    const { Attributes } = await emulators.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: emulators.queues.taskQueueUrl,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    return Number(Attributes!.ApproximateNumberOfMessages) + Number(Attributes!.ApproximateNumberOfMessagesNotVisible);
  }

  it('SQS down during submit: 503, and the recorded task is FAILURE enqueue_failed, not PENDING', async () => {
    await emulators.stopSqs();
    const response = await submit({ name: 'add', args: [1, 2] });
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ error: { code: 'unavailable' } });
    const tasks = await allTasks();
    expect(tasks).toHaveLength(1);
    expect(tasks[0]).toMatchObject({ state: 'FAILURE', error: { code: 'enqueue_failed' } });
    report('SQS unreachable during submit', { submitted: 1, answered503: 1, leftPending: 0 });
  });

  it('DynamoDB down during submit: 503, and the message sent beside the failed record runs nothing that is kept', async () => {
    await emulators.stopDynamoDb();
    const response = await submit({ name: 'add', args: [1, 2] });
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ error: { code: 'unavailable' } });
    // Recorded and queued at once: the message is out, its record is not.
    const queued = await queuedMessages();
    expect(queued).toBe(1);
    await emulators.startDynamoDb();
    failedRecords = 0;
    startWorker();
    // Each delivery waits for the record, hands the message back, and after maxReceiveCount (3) it
    // moves to the dead-letter queue; no task was ever recorded, none is now.
    await eventually(async () => expect(await queuedMessages()).toBe(0), { timeoutMs: 20_000, intervalMs: 500 });
    expect(failedRecords).toBe(3);
    expect(await allTasks()).toEqual([]);
    report('DynamoDB unreachable during submit', { submitted: 1, answered503: 1, queued, deliveries: failedRecords, recorded: 0 });
  }, 30_000);

  it('DynamoDB down during the wait: 202 with the task id, and the result arrives once it is back', async () => {
    // The store goes away right after the task is queued, while the API waits for the result.
    const stopStoreAfterSend: TaskQueue = {
      send: async (message) => {
        await queue.send(message);
        await emulators.stopDynamoDb();
      },
      sendMany: () => Promise.reject(new Error('not used by this test')),
    };
    app = buildApp(stopStoreAfterSend).app;
    const response = await submit({ name: 'add', args: [40, 2] }, '?wait=1');
    expect(response.status).toBe(202);
    const { id } = (await response.json()) as { id: string };

    await emulators.startDynamoDb();
    startWorker();
    await eventually(async () => expect(await store.get(id)).toMatchObject({ state: 'SUCCESS', result: 42 }), { timeoutMs: 15_000 });
    report('DynamoDB unreachable during the wait', { submitted: 1, answered202: 1, terminal: 1, lost: 0 });
  });

  it('DynamoDB down in the worker: the message is retried and the result written once it is back', async () => {
    const ids: string[] = [];
    for (const args of [[1, 2], [3, 4], [5, 6]]) {
      const response = await submit({ name: 'add', args });
      ids.push(((await response.json()) as { id: string }).id);
    }
    await emulators.stopDynamoDb();
    failedRecords = 0;
    startWorker();
    // Every first delivery fails against the missing store; bring it back then, well before
    // maxReceiveCount (3) with a 1 s visibility timeout.
    await eventually(async () => expect(failedRecords).toBeGreaterThanOrEqual(3), { timeoutMs: 10_000 });
    await emulators.startDynamoDb();
    for (const [index, id] of ids.entries()) {
      const expected = [3, 7, 11][index];
      await eventually(async () => expect(await store.get(id)).toMatchObject({ state: 'SUCCESS', result: expected }), {
        timeoutMs: 15_000,
      });
    }
    expect(store.duplicated()).toBe(0);
    report('DynamoDB unreachable in the worker', { tasks: 3, failedDeliveries: failedRecords, terminal: 3, lost: 0, duplicated: store.duplicated() });
  });
});
