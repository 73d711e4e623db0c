import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DynamoDbTaskStore } from '../../lib/aws/dynamodb-task-store.ts';
import { SqsTaskQueue } from '../../lib/aws/sqs-task-queue.ts';
import { systemClock } from '../../lib/clock.ts';
import { createTestTasks } from '../support/app-harness.ts';
import { useEmulators } from '../support/emulators.ts';
import { startTaskWorkerSource } from '../support/task-worker-source.ts';
import { eventually } from '../support/eventually.ts';
import { CountingStore, report } from './support.ts';

const DYING_WORKER = fileURLToPath(new URL('./fixtures/dying-worker.ts', import.meta.url));

describe('a worker killed after receiving a task and before writing its result', () => {
  const emulators = useEmulators({ visibilityTimeoutSeconds: 2 });

  it('leaves the message to come back, and the task ends SUCCESS exactly once', async () => {
    const store = new CountingStore(new DynamoDbTaskStore({ client: emulators.documents, tableName: emulators.tableName }));
    const queue = new SqsTaskQueue({ client: emulators.sqs, queueUrl: emulators.queues.taskQueueUrl });
    const { tasks } = createTestTasks({ store, queue, clock: systemClock, taskTtlSeconds: 3600 });
    const task = await tasks.submit('alice', { name: 'mul', args: [6, 7] }, 0);

    const child = spawn(process.execPath, ['--import', 'tsx', DYING_WORKER], {
      env: {
        ...process.env,
        SQS_ENDPOINT: emulators.sqsEndpoint,
        DYNAMODB_ENDPOINT: emulators.dynamodbEndpoint,
        TABLE_NAME: emulators.tableName,
        QUEUE_URL: emulators.queues.taskQueueUrl,
        QUEUE_ARN: emulators.queues.taskQueueArn,
      },
      stdio: 'ignore',
    });
    const [, signal] = await once(child, 'exit');
    expect(signal).toBe('SIGKILL');
    expect(await store.get(task.id)).toMatchObject({ state: 'PENDING' });

    // A healthy worker: the message reappears after the visibility timeout.
    const source = startTaskWorkerSource({ sqs: emulators.sqs, queues: emulators.queues, store });
    try {
      await eventually(async () => expect(await store.get(task.id)).toMatchObject({ state: 'SUCCESS', result: 42 }), {
        timeoutMs: 15_000,
      });
    } finally {
      await source.stop();
    }
    expect(store.terminalWrites.get(task.id)).toBe(1);
    report('worker killed mid-task', { tasks: 1, killed: 1, terminal: 1, lost: 0, duplicated: store.duplicated() });
  });
});
