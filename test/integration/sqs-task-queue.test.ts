import {
  CreateQueueCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SendMessageBatchCommandInput,
  type SendMessageBatchResult,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createSqsClient } from '../../lib/aws/clients.ts';
import { SqsTaskQueue } from '../../lib/aws/sqs-task-queue.ts';
import { UnavailableError } from '../../lib/errors.ts';
import type { QueuedMessage } from '../../lib/ports.ts';
import { type TaskMessage, decodeTaskMessage, encodeTaskMessage } from '../../lib/tasks/task-message.ts';
import { newTaskId } from '../../lib/tasks/task.ts';
import { LOCAL_CREDENTIALS, REGION } from '../../local/settings.ts';
import { closedPort, useEmulators } from '../support/emulators.ts';

describe('SqsTaskQueue against fauxqs', () => {
  const emulators = useEmulators();

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

  /** A new, empty queue of the emulator (with `attributes`), so a test receives only what it sent. */
  async function freshQueueUrl(attributes: Record<string, string> = {}): Promise<string> {
    const name = `tasks-${Math.random().toString(36).slice(2, 10)}`;
    const { QueueUrl } = await emulators.sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
    return QueueUrl!;
  }

  /** Receives until `count` messages came or `timeoutMs` passed (long polls: a send wakes them). */
  async function receive(queueUrl: string, count: number, timeoutMs: number): Promise<Message[]> {
    const received: Message[] = [];
    const deadline = Date.now() + timeoutMs;
    while (received.length < count && Date.now() < deadline) {
      const wait = Math.max(0, Math.min(20, Math.floor((deadline - Date.now()) / 1000)));
      const { Messages } = await emulators.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: wait, VisibilityTimeout: 60 }),
      );
      received.push(...(Messages ?? []));
      if (wait === 0) break;
    }
    return received;
  }

  /**
   * A real SQS client of the emulator that records each SendMessageBatch it sends, and lets a test
   * turn a sent entry into a failure in the answer (as SQS does when throttled), so retries can
   * be seen. Every call still goes to fauxqs.
   */
  function observedClient(failEntry?: (entryId: string, call: number) => { SenderFault: boolean } | undefined) {
    const calls: SendMessageBatchCommandInput[] = [];
    const client = new SQSClient({ region: REGION, credentials: LOCAL_CREDENTIALS, endpoint: emulators.sqsEndpoint });
    client.middlewareStack.add(
      (next) => async (args) => {
        const result = await next(args);
        if (!(args.input && 'Entries' in (args.input as object))) return result;
        calls.push(args.input as SendMessageBatchCommandInput);
        if (!failEntry) return result;
        const output = result.output as SendMessageBatchResult;
        const failures = (output.Successful ?? []).flatMap((entry) => {
          const fault = failEntry(entry.Id!, calls.length);
          return fault ? [{ Id: entry.Id!, Code: fault.SenderFault ? 'InvalidParameterValue' : 'InternalError', ...fault }] : [];
        });
        output.Successful = (output.Successful ?? []).filter((entry) => !failures.some((failure) => failure.Id === entry.Id));
        output.Failed = [...(output.Failed ?? []), ...failures];
        return result;
      },
      { step: 'initialize', name: 'observeBatches' },
    );
    return { client, calls };
  }

  const messageFor = (args: unknown[] = ['1', '2']): TaskMessage => ({ taskId: newTaskId(), name: 'add', args: args as TaskMessage['args'] });

  describe('delays', () => {
    it('keeps a message sent with delaySeconds from every receiver until the delay has passed', async () => {
      const queueUrl = await freshQueueUrl();
      const queue = new SqsTaskQueue({ client: emulators.sqs, queueUrl });
      const message = messageFor();
      const sentAt = Date.now();

      await queue.send(message, { delaySeconds: 2 });

      expect(await receive(queueUrl, 1, 1_000)).toEqual([]);
      const [received] = await receive(queueUrl, 1, 5_000);
      expect(Date.now() - sentAt).toBeGreaterThanOrEqual(1_900);
      expect(decodeTaskMessage(received!.Body!)).toEqual(message);
    });

    it('sends at once without delaySeconds, or with 0', async () => {
      const queueUrl = await freshQueueUrl();
      const queue = new SqsTaskQueue({ client: emulators.sqs, queueUrl });
      const sentAt = Date.now();

      await queue.send(messageFor());
      await queue.send(messageFor(), { delaySeconds: 0 });

      expect(await receive(queueUrl, 2, 1_500)).toHaveLength(2);
      expect(Date.now() - sentAt).toBeLessThan(1_000);
    });
  });

  describe('sendMany', () => {
    it('sends 23 messages in calls of at most 10 entries and 256 KiB, delays included, each one once', async () => {
      const queueUrl = await freshQueueUrl();
      const { client, calls } = observedClient();
      const queue = new SqsTaskQueue({ client, queueUrl });
      // A body 10 bytes short of 256 KiB: alone it fits a call, with any other message it does not.
      const empty = messageFor(['']);
      const large = { ...empty, args: ['x'.repeat(256 * 1024 - 10 - encodeTaskMessage(empty).length)] };
      const messages: QueuedMessage[] = Array.from({ length: 23 }, (_, i) => ({
        message: i === 4 ? large : messageFor([String(i), '1']),
        ...(i % 5 === 1 && { delaySeconds: 1 }),
      }));

      expect(ids(await queue.sendMany(messages))).toEqual(new Set());

      expect(calls.map((call) => call.Entries!.length)).toEqual([4, 1, 10, 8]);
      for (const call of calls) {
        const bytes = call.Entries!.reduce((total, entry) => total + Buffer.byteLength(entry.MessageBody!), 0);
        expect(bytes).toBeLessThanOrEqual(256 * 1024);
      }
      const entries = calls.flatMap((call) => call.Entries!);
      expect(entries.map((entry) => entry.Id)).toEqual(messages.map((_, i) => String(i)));
      expect(entries.map((entry) => entry.DelaySeconds)).toEqual(messages.map((m) => m.delaySeconds));
      expect(entries.map((entry) => entry.MessageBody)).toEqual(messages.map((m) => encodeTaskMessage(m.message)));
      client.destroy();

      const received = await receive(queueUrl, 23, 10_000);
      expect(received.map((m) => decodeTaskMessage(m.Body!)).sort(byTaskId)).toEqual(messages.map((m) => m.message).sort(byTaskId));
    });

    it('sends again the entries SQS failed on its side, and reports those it still failed after 3 more tries', async () => {
      const queueUrl = await freshQueueUrl();
      // Entry 1 fails twice, then goes; entry 2 fails every time.
      const { client, calls } = observedClient((id, call) => ((id === '1' && call <= 2) || id === '2' ? { SenderFault: false } : undefined));
      const queue = new SqsTaskQueue({ client, queueUrl });
      const messages = Array.from({ length: 5 }, () => ({ message: messageFor() }));

      const unsent = await queue.sendMany(messages);

      expect(ids(unsent)).toEqual(new Set([messages[2]!.message.taskId]));
      expect(calls.map((call) => call.Entries!.map((entry) => entry.Id))).toEqual([['0', '1', '2', '3', '4'], ['1', '2'], ['1', '2'], ['2']]);
      client.destroy();
    });

    it('reports a message the queue refuses as the sender’s fault at once, without sending it again, and sends the rest', async () => {
      const queueUrl = await freshQueueUrl({ MaximumMessageSize: '1024' });
      const { client, calls } = observedClient();
      const queue = new SqsTaskQueue({ client, queueUrl });
      const tooLarge = messageFor(['x'.repeat(2_000)]);
      const messages = [{ message: messageFor() }, { message: tooLarge }, { message: messageFor() }];

      expect(ids(await queue.sendMany(messages))).toEqual(new Set([tooLarge.taskId]));

      expect(calls).toHaveLength(1);
      expect(await receive(queueUrl, 2, 2_000)).toHaveLength(2);
      client.destroy();
    });

    it('resolves with nothing to send without calling SQS', async () => {
      const { client, calls } = observedClient();
      expect(ids(await new SqsTaskQueue({ client, queueUrl: emulators.queues.taskQueueUrl }).sendMany([]))).toEqual(new Set());
      expect(calls).toEqual([]);
      client.destroy();
    });
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

    it('resolves sendMany with every task id as unsent, and does not reject', async () => {
      const endpoint = `http://127.0.0.1:${await closedPort()}`;
      const client = createSqsClient({ region: 'us-east-1', tableName: 'unused', dynamodbEndpoint: undefined, sqsEndpoint: endpoint });
      const queue = new SqsTaskQueue({ client, queueUrl: `${endpoint}/000000000000/tasks` });
      const messages = Array.from({ length: 12 }, () => ({ message: { taskId: newTaskId(), name: 'add', args: ['1'] } }));

      const unsent = await queue.sendMany(messages);
      expect(ids(unsent)).toEqual(new Set(messages.map((m) => m.message.taskId)));
      expect([...unsent.values()][0]).toMatchObject({ code: 'unavailable', cause: expect.any(Error) });
      client.destroy();
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

function byTaskId(a: TaskMessage, b: TaskMessage): number {
  return a.taskId.localeCompare(b.taskId);
}

/** The ids a bulk call left out (its result maps each to why). */
function ids(failed: ReadonlyMap<string, unknown>): Set<string> {
  return new Set(failed.keys());
}
