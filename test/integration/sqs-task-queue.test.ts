import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createSqsClient } from '../../lib/aws/clients.ts';
import { SqsTaskQueue } from '../../lib/aws/sqs-task-queue.ts';
import { UnavailableError } from '../../lib/errors.ts';
import { type TaskMessage, decodeTaskMessage } from '../../lib/tasks/task-message.ts';
import { newTaskId } from '../../lib/tasks/task.ts';
import { closedPort, startTestEmulators, type TestEmulators } from '../support/emulators.ts';

describe('SqsTaskQueue against fauxqs', () => {
  let emulators: TestEmulators;

  beforeAll(async () => {
    emulators = await startTestEmulators();
  });

  afterAll(async () => {
    await emulators?.stop();
  });

  it('sends a body that a worker decodes back into the same task message', async () => {
    const queue = new SqsTaskQueue({ client: emulators.sqs, queueUrl: emulators.queues.taskQueueUrl });
    const message: TaskMessage = {
      taskId: newTaskId(),
      name: 'mul',
      args: ['-123456789012345678901234567890', '9007199254740993', '0'],
    };

    await queue.send(message);

    const { Messages } = await emulators.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: emulators.queues.taskQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    expect(Messages).toHaveLength(1);
    expect(decodeTaskMessage(Messages![0]!.Body!)).toEqual(message);
  });

  it('answers a ping (the readiness probe) for its queue, and refuses one for a queue that does not exist', async () => {
    await expect(new SqsTaskQueue({ client: emulators.sqs, queueUrl: emulators.queues.taskQueueUrl }).ping()).resolves.toBeUndefined();
    const missing = emulators.queues.taskQueueUrl.replace(/[^/]+$/, 'no-such-queue');
    await expect(new SqsTaskQueue({ client: emulators.sqs, queueUrl: missing }).ping()).rejects.toMatchObject({ code: 'unavailable' });
  });

  describe('when SQS cannot be reached', () => {
    beforeAll(() => {
      // The SDK signs requests before sending them: without credentials the call would fail on
      // signing, not on the connection this test is about.
      vi.stubEnv('AWS_ACCESS_KEY_ID', 'local');
      vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'local');
    });

    afterAll(() => {
      vi.unstubAllEnvs();
    });

    it('rejects send with code unavailable and keeps the connection error as cause', async () => {
      const endpoint = `http://127.0.0.1:${await closedPort()}`;
      const client = createSqsClient({ region: 'us-east-1', tableName: 'unused', dynamodbEndpoint: undefined, sqsEndpoint: endpoint });
      const queue = new SqsTaskQueue({ client, queueUrl: `${endpoint}/000000000000/tasks` });

      const error = await queue.send({ taskId: newTaskId(), name: 'add', args: ['1'] }).then(
        () => undefined,
        (rejection: unknown) => rejection,
      );
      client.destroy();

      expect(error).toBeInstanceOf(UnavailableError);
      expect(error).toMatchObject({ code: 'unavailable', cause: { code: 'ECONNREFUSED' } });
    });

    it('rejects ping with code unavailable', async () => {
      const endpoint = `http://127.0.0.1:${await closedPort()}`;
      const client = createSqsClient({ region: 'us-east-1', tableName: 'unused', dynamodbEndpoint: undefined, sqsEndpoint: endpoint });
      await expect(new SqsTaskQueue({ client, queueUrl: `${endpoint}/000000000000/tasks` }).ping()).rejects.toMatchObject({
        code: 'unavailable',
        cause: { code: 'ECONNREFUSED' },
      });
      client.destroy();
    });
  });
});
