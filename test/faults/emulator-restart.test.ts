import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createDynamoDbDocumentClient, createSqsClient } from '../../lib/aws/clients.ts';
import { DynamoDbTaskStore } from '../../lib/aws/dynamodb-task-store.ts';
import { SqsTaskQueue } from '../../lib/aws/sqs-task-queue.ts';
import { systemClock } from '../../lib/clock.ts';
import { isTerminal } from '../../lib/tasks/task.ts';
import { TaskSweeper } from '../../lib/tasks/task-sweeper.ts';
import { REGION } from '../../local/settings.ts';
import { startTaskWorkerSource } from '../support/task-worker-source.ts';
import { eventually } from '../support/eventually.ts';
import { CountingStore, type RestartableEmulators, report, startRestartableEmulators } from './support.ts';
import { createTestApp } from '../support/app-harness.ts';

const TASKS = 1_000;
const CONCURRENCY = 16;
/** Submissions after which both emulators are restarted. */
const RESTART_AFTER = 400;

/**
 * Both emulators stop and start again in the middle of 1,000 submissions. DynamoDB keeps its data;
 * the SQS emulator loses every queued and in-flight message, which only the sweeper can recover.
 * Every task the API accepted (200 or 202) must end SUCCESS, with the right result, written once.
 */
describe('both emulators restarted during a run of 1,000 tasks', () => {
  let emulators: RestartableEmulators;

  beforeAll(() => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'local');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'local');
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    await emulators?.stop();
  });

  it('ends every accepted task, none lost and none with two results', { timeout: 180_000 }, async () => {
    emulators = await startRestartableEmulators(2);
    const aws = { region: REGION, tableName: emulators.tableName, dynamodbEndpoint: emulators.dynamodbEndpoint, sqsEndpoint: emulators.sqsEndpoint };
    const store = new CountingStore(new DynamoDbTaskStore({ client: createDynamoDbDocumentClient(aws), tableName: aws.tableName }));
    const queue = new SqsTaskQueue({ client: createSqsClient(aws), queueUrl: emulators.queues.taskQueueUrl });
    const { app, tokenFor } = createTestApp({ store, queue, clock: systemClock, taskTtlSeconds: 3600 });
    const token = await tokenFor('alice');

    const source = startTaskWorkerSource({ sqs: emulators.sqs, queues: emulators.queues, store, maxConcurrency: 4 });
    // The sweeper's schedule, compressed: tasks open 2 s after they were queued are queued again.
    const sweeper = new TaskSweeper({ store, queue, staleAfterSeconds: 2 });
    let sweeping = true;
    const sweeps = (async () => {
      while (sweeping) {
        await sweeper.sweep().catch(() => {});
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    })();

    const accepted = new Map<string, number>();
    const statuses = new Map<number, number>();
    let next = 0;
    let restart: Promise<void> | undefined;
    const submitOne = async (n: number) => {
      const args = [n, 1, 2];
      const response = await app.request('/tasks?wait=0', {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'add', args }),
      });
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
      const body = (await response.json()) as { id?: string };
      if (response.status === 200 || response.status === 202) accepted.set(body.id!, n + 3);
    };
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < TASKS) {
          const n = next++;
          if (n === RESTART_AFTER) {
            restart = (async () => {
              await Promise.all([emulators.stopSqs(), emulators.stopDynamoDb()]);
              await Promise.all([emulators.startDynamoDb(), emulators.startSqs()]);
            })();
          }
          await submitOne(n);
        }
      }),
    );
    await restart;

    try {
      await eventually(
        async () => {
          let open = 0;
          for (const id of accepted.keys()) {
            const task = await store.get(id);
            if (!task || !isTerminal(task.state)) open += 1;
          }
          expect(open).toBe(0);
        },
        { timeoutMs: 120_000, intervalMs: 1_000 },
      );
    } finally {
      sweeping = false;
      await sweeps;
      await source.stop();
    }

    let wrong = 0;
    const wrongTasks: string[] = [];
    for (const [id, expected] of accepted) {
      const task = await store.get(id);
      if (task?.state !== 'SUCCESS' || task.result !== expected) {
        wrong += 1;
        wrongTasks.push(`${id} ${task?.state} ${task?.error?.code ?? ''} ${task?.result ?? ''} (expected ${expected})`);
      }
    }
    report('both emulators restarted during 1,000 tasks', {
      submitted: TASKS,
      accepted: accepted.size,
      refused503: statuses.get(503) ?? 0,
      terminal: accepted.size - wrong,
      lost: wrong,
      duplicated: store.duplicated(),
    });
    // Most submissions before the restart are accepted; how many during it depends on its length.
    expect(accepted.size).toBeGreaterThan(RESTART_AFTER / 2);
    expect(wrongTasks).toEqual([]);
    expect(store.duplicated()).toBe(0);
  });
});
