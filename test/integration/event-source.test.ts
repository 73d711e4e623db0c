import {
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
  SendMessageBatchCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DynamoDbTaskStore } from '../../lib/aws/dynamodb-task-store.ts';
import { type SqsBatchHandler, createSqsBatchHandler, taskRecordProcessor } from '../../lib/aws/sqs-batch-handler.ts';
import { SqsTaskQueue } from '../../lib/aws/sqs-task-queue.ts';
import { UnavailableError } from '../../lib/errors.ts';
import type { TaskStore } from '../../lib/ports.ts';
import type { Task } from '../../lib/tasks/task.ts';
import { TaskWorker } from '../../lib/tasks/task-worker.ts';
import { MAX_RECEIVE_COUNT } from '../../local/provision.ts';
import { SqsEventSource } from '../../local/event-source.ts';
import { LOCAL_CREDENTIALS, REGION } from '../../local/settings.ts';
import { useEmulators } from '../support/emulators.ts';
import { eventually } from '../support/eventually.ts';
import { messageBodyFor, pendingTask } from '../support/task-fixtures.ts';
import { catalog } from '../support/catalog.ts';

/** Redelivery takes 1 s per receive here; a message reaches the dead-letter queue in about 3-4 s. */
const SETTLE = { timeoutMs: 15_000 } as const;

interface Invocation {
  readonly event: SQSEvent;
  readonly response: SQSBatchResponse | undefined;
}

describe('SqsEventSource feeding the worker handler (fauxqs + dynalite)', () => {
  const emulators = useEmulators({ visibilityTimeoutSeconds: 1, each: true });
  let store: DynamoDbTaskStore;
  let sources: SqsEventSource[];

  beforeEach(() => {
    store = new DynamoDbTaskStore({ client: emulators.documents, tableName: emulators.tableName });
    sources = [];
  });

  afterEach(async () => {
    await Promise.all(sources.map((source) => source.stop()));
  });

  /** Starts an event source on `queueUrl` and records every invocation it makes. */
  function startEventSource(queueUrl: string, queueArn: string, handler: SqsBatchHandler): Invocation[] {
    const invocations: Invocation[] = [];
    const source = new SqsEventSource({
      sqs: emulators.sqs,
      queueUrl,
      queueArn,
      region: REGION,
      batchSize: 10,
      // One invocation at a time, as one Lambda instance handles one batch at a time.
      maxConcurrency: 1,
      invoke: async (event) => {
        const response = await handler(event);
        invocations.push({ event, response });
        return response;
      },
    });
    sources.push(source);
    source.start();
    return invocations;
  }

  async function messageCounts(queueUrl: string): Promise<{ visible: number; inFlight: number }> {
    const { Attributes } = await emulators.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: queueUrl,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    return {
      visible: Number(Attributes?.ApproximateNumberOfMessages),
      inFlight: Number(Attributes?.ApproximateNumberOfMessagesNotVisible),
    };
  }

  async function stateOf(id: string): Promise<Task> {
    const task = await store.get(id);
    if (!task) throw new Error(`task ${id} is gone`);
    return task;
  }

  it('completes the good task of a mixed batch and moves the poison message to the dead-letter queue after 3 receives', async () => {
    const task = pendingTask({ name: 'add', args: ['40', '2'] });
    await store.create(task);
    const goodBody = messageBodyFor(task);
    // Both sent before any poller runs, so the first receive hands them over in one batch.
    await emulators.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: emulators.queues.taskQueueUrl,
        Entries: [
          { Id: 'good', MessageBody: goodBody },
          { Id: 'poison', MessageBody: 'not json' },
        ],
      }),
    );
    const worker = new TaskWorker({ catalog, store });

    const invocations = startEventSource(
      emulators.queues.taskQueueUrl,
      emulators.queues.taskQueueArn,
      createSqsBatchHandler(taskRecordProcessor(worker)),
    );

    await eventually(async () => expect((await messageCounts(emulators.queues.deadLetterQueueUrl)).visible).toBe(1), SETTLE);
    await expect(stateOf(task.id)).resolves.toMatchObject({ state: 'SUCCESS', result: 42 });

    const [first] = invocations;
    expect(first?.event.Records.map((record) => record.body).sort()).toEqual([goodBody, 'not json'].sort());
    const poisonId = first?.event.Records.find((record) => record.body === 'not json')?.messageId;
    expect(first?.response?.batchItemFailures).toEqual([{ itemIdentifier: poisonId }]);

    const records = invocations.flatMap((invocation) => invocation.event.Records);
    // The good message was deleted: with a 1 s visibility timeout it would otherwise have come back.
    expect(records.filter((record) => record.body === goodBody)).toHaveLength(1);
    expect(
      records.filter((record) => record.body === 'not json').map((record) => record.attributes.ApproximateReceiveCount),
    ).toEqual(Array.from({ length: MAX_RECEIVE_COUNT }, (_, index) => String(index + 1)));
    await expect(messageCounts(emulators.queues.taskQueueUrl)).resolves.toEqual({ visible: 0, inFlight: 0 });

    const { Messages } = await emulators.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: emulators.queues.deadLetterQueueUrl, MaxNumberOfMessages: 10 }),
    );
    expect(Messages?.map((message) => message.Body)).toEqual(['not json']);
  });

  it('ends a task whose result writes keep failing in FAILURE retries_exhausted through the dead-letter queue, while the others succeed', async () => {
    const doomed = pendingTask({ name: 'add', args: ['1', '1'] });
    const others = [
      pendingTask({ name: 'add', args: ['2', '3'] }),
      pendingTask({ name: 'mul', args: ['6', '7'] }),
      pendingTask({ name: 'mul', args: ['99999999999999999999', '99999999999999999999'] }),
    ];
    for (const task of [doomed, ...others]) await store.create(task);
    // The table stays reachable for everyone else; only the doomed task's end-state writes hit the
    // outage, so its record shows the attempts (RETRY) that the dead-letter handler requires.
    const partlyDownStore: TaskStore = {
      create: (task) => store.create(task),
      get: (id) => store.get(id),
      createMany: (tasks) => store.createMany(tasks),
      listDue: (dueBy, limit) => store.listDue(dueBy, limit),
      listByOwner: (query) => store.listByOwner(query),
      saveProgress: (id, progress, input) => store.saveProgress(id, progress, input),
      markStarted: (id, at, input) => store.markStarted(id, at, input),
      transition: async (id, change) => {
        if (id === doomed.id && change.to !== 'RETRY') throw new UnavailableError('simulated outage of the task store');
        return store.transition(id, change);
      },
      listOpen: (before, limit) => store.listOpen(before, limit),
      recordRequeue: (id, previous, at) => store.recordRequeue(id, previous, at),
    };
    const worker = new TaskWorker({ catalog, store: partlyDownStore });
    const deadLetterWorker = new TaskWorker({ catalog, store });

    startEventSource(
      emulators.queues.taskQueueUrl,
      emulators.queues.taskQueueArn,
      createSqsBatchHandler(taskRecordProcessor(worker)),
    );
    const deadLetterInvocations = startEventSource(
      emulators.queues.deadLetterQueueUrl,
      emulators.queues.deadLetterQueueArn,
      createSqsBatchHandler((record) => deadLetterWorker.failExhausted(record.body)),
    );
    const queue = new SqsTaskQueue({ client: emulators.sqs, queueUrl: emulators.queues.taskQueueUrl });
    await Promise.all(
      [doomed, ...others].map((task) => queue.send({ taskId: task.id, name: task.name, args: task.args })),
    );

    const failed = await eventually(async () => {
      const task = await stateOf(doomed.id);
      expect(task.state).toBe('FAILURE');
      return task;
    }, SETTLE);
    expect(failed.error?.code).toBe('retries_exhausted');
    expect(failed.result).toBeUndefined();

    const expected = [5, 42, (99999999999999999999n * 99999999999999999999n).toString()];
    for (const [index, task] of others.entries()) {
      await expect(stateOf(task.id)).resolves.toMatchObject({ state: 'SUCCESS', result: expected[index] });
    }
    // The dead letter was handled, so it is deleted rather than left to come back.
    await eventually(
      async () => expect(await messageCounts(emulators.queues.deadLetterQueueUrl)).toEqual({ visible: 0, inFlight: 0 }),
      SETTLE,
    );
    expect(deadLetterInvocations.flatMap((invocation) => invocation.event.Records.map((record) => record.body))).toEqual([
      messageBodyFor(doomed),
    ]);
    await expect(messageCounts(emulators.queues.taskQueueUrl)).resolves.toEqual({ visible: 0, inFlight: 0 });
  });
  it('ends a task whose worker dies on every delivery in FAILURE retries_exhausted: the redeliveries mark it RETRY', async () => {
    const doomed = pendingTask({ name: 'add', args: ['4', '4'] });
    await store.create(doomed);
    // A worker that dies right before its result write: nothing after that point happens in that
    // delivery (the RETRY mark of an outage included), as when Lambda kills a timed-out function.
    let dead = false;
    const dyingStore: TaskStore = {
      create: (task) => store.create(task),
      get: (id) => store.get(id),
      createMany: (tasks) => store.createMany(tasks),
      listDue: (dueBy, limit) => store.listDue(dueBy, limit),
      listByOwner: (query) => store.listByOwner(query),
      saveProgress: (id, progress, input) => store.saveProgress(id, progress, input),
      markStarted: (id, at, input) => store.markStarted(id, at, input),
      transition: async (id, change) => {
        if (dead || change.to === 'SUCCESS' || change.to === 'FAILURE') {
          dead = true;
          throw new Error('the worker died');
        }
        return store.transition(id, change);
      },
      listOpen: (before, limit) => store.listOpen(before, limit),
      recordRequeue: (id, previous, at) => store.recordRequeue(id, previous, at),
    };
    const worker = new TaskWorker({ catalog, store: dyingStore });
    const states: string[] = [];
    startEventSource(emulators.queues.taskQueueUrl, emulators.queues.taskQueueArn, async (event, context) => {
      dead = false;
      states.push((await stateOf(doomed.id)).state);
      return createSqsBatchHandler(taskRecordProcessor(worker))(event, context);
    });
    const deadLetterWorker = new TaskWorker({ catalog, store });
    startEventSource(
      emulators.queues.deadLetterQueueUrl,
      emulators.queues.deadLetterQueueArn,
      createSqsBatchHandler((record) => deadLetterWorker.failExhausted(record.body)),
    );
    await new SqsTaskQueue({ client: emulators.sqs, queueUrl: emulators.queues.taskQueueUrl }).send({
      taskId: doomed.id,
      name: doomed.name,
      args: doomed.args,
    });

    const failed = await eventually(async () => {
      const task = await stateOf(doomed.id);
      expect(task.state).toBe('FAILURE');
      return task;
    }, SETTLE);
    expect(failed.error?.code).toBe('retries_exhausted');
    // What each delivery found: never attempted, then the RETRY the second delivery wrote.
    expect(states).toEqual(['PENDING', 'PENDING', 'RETRY']);
  });

  it('runs up to maxConcurrency invocations at once, with never more than one long poll waiting', async () => {
    // A client of its own, to watch the ReceiveMessage calls the event source makes.
    const sqs = new SQSClient({ region: REGION, endpoint: emulators.sqsEndpoint, credentials: LOCAL_CREDENTIALS });
    let receiving = 0;
    let mostReceiving = 0;
    sqs.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== 'ReceiveMessageCommand') return next(args);
        mostReceiving = Math.max(mostReceiving, (receiving += 1));
        try {
          return await next(args);
        } finally {
          receiving -= 1;
        }
      },
      { step: 'initialize', name: 'countReceives' },
    );
    const releases: (() => void)[] = [];
    let running = 0;
    let mostRunning = 0;
    const started: string[] = [];
    const source = new SqsEventSource({
      sqs,
      queueUrl: emulators.queues.taskQueueUrl,
      queueArn: emulators.queues.taskQueueArn,
      region: REGION,
      batchSize: 1,
      maxConcurrency: 2,
      invoke: async (event) => {
        started.push(event.Records[0]!.body);
        mostRunning = Math.max(mostRunning, (running += 1));
        await new Promise<void>((resolve) => releases.push(resolve));
        running -= 1;
        return { batchItemFailures: [] };
      },
    });
    sources.push(source);
    source.start();
    for (const body of ['a', 'b', 'c']) {
      await emulators.sqs.send(new SendMessageCommand({ QueueUrl: emulators.queues.taskQueueUrl, MessageBody: body }));
    }

    try {
      await eventually(() => expect(started).toHaveLength(2), SETTLE);
      // Both slots are taken: the third message waits, visible, until one invocation ends.
      await expect(messageCounts(emulators.queues.taskQueueUrl)).resolves.toMatchObject({ visible: 1 });
      releases.shift()!();
      await eventually(() => expect(started).toHaveLength(3), SETTLE);
      await eventually(() => expect(releases).toHaveLength(2), SETTLE);
    } finally {
      // Never leave an invocation hanging, or stop() in afterEach would wait for it forever.
      for (const release of releases.splice(0)) release();
    }
    await eventually(async () => expect(await messageCounts(emulators.queues.taskQueueUrl)).toEqual({ visible: 0, inFlight: 0 }), SETTLE);
    expect(started.sort()).toEqual(['a', 'b', 'c']);
    expect(mostRunning).toBe(2);
    expect(mostReceiving).toBe(1);
  });
});
