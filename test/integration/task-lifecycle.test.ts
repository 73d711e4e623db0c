import { beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbIdempotencyStore } from '../../lib/aws/dynamodb-idempotency-store.ts';
import { DynamoDbTaskStore } from '../../lib/aws/dynamodb-task-store.ts';
import { SqsTaskQueue } from '../../lib/aws/sqs-task-queue.ts';
import { RequestInProgressError } from '../../lib/errors.ts';
import type { StateChange } from '../../lib/ports.ts';
import type { BatchItem, TaskService } from '../../lib/tasks/task-service.ts';
import { TaskSweeper } from '../../lib/tasks/task-sweeper.ts';
import { systemClock } from '../../lib/clock.ts';
import { createTestTasks } from '../support/app-harness.ts';
import { useEmulators } from '../support/emulators.ts';

/**
 * Bursts against the real emulators: the steps that must be one atomic conditional write (cancel,
 * the scheduler's release, a batch's Idempotency-Key) met by many requests at once, in dynalite.
 */
describe('the task lifecycle under bursts, in DynamoDB', () => {
  const emulators = useEmulators();
  let store: CountingStore;
  let service: TaskService;
  let sweeper: TaskSweeper;

  /** Counts the writes to CANCELLED and to PENDING that took effect. */
  class CountingStore extends DynamoDbTaskStore {
    readonly applied = new Map<string, number>();
    override async transition(id: string, change: StateChange) {
      const updated = await super.transition(id, change);
      if (updated) this.applied.set(`${id} ${change.to}`, (this.applied.get(`${id} ${change.to}`) ?? 0) + 1);
      return updated;
    }
  }

  beforeAll(() => {
    store = new CountingStore({ client: emulators.documents, tableName: emulators.tableName });
    const queue = new SqsTaskQueue({ client: emulators.sqs, queueUrl: emulators.queues.taskQueueUrl });
    const idempotency = new DynamoDbIdempotencyStore({ client: emulators.documents, tableName: emulators.tableName });
    // Tasks more than a second ahead wait as SCHEDULED, so the scheduler's path takes a moment here.
    const runLater = { maxAheadSeconds: 3600, maxQueueDelaySeconds: 1 };
    ({ tasks: service } = createTestTasks({ store, queue, idempotency, clock: systemClock, taskTtlSeconds: 3600, service: { runLater } }));
    sweeper = new TaskSweeper({ store, queue, staleAfterSeconds: 300, scheduleAheadSeconds: 60 });
  });

  it('gives 50 concurrent cancels of one task one write and the same answer', async () => {
    const task = await service.submit('alice', { name: 'add', args: [1, 2] }, 0, { delaySeconds: 30 });
    const answers = await Promise.all(Array.from({ length: 50 }, () => service.cancel('alice', task.id)));
    expect(new Set(answers.map((answer) => `${answer.state} ${answer.updatedAt}`)).size).toBe(1);
    expect(answers[0]!.state).toBe('CANCELLED');
    expect(store.applied.get(`${task.id} CANCELLED`)).toBe(1);
  });

  it('releases each due task once however many sweeps overlap, and never one cancelled in the same burst', async () => {
    const kept = await service.submit('alice', { name: 'add', args: [3] }, 0, { delaySeconds: 20 });
    const dropped = await service.submit('alice', { name: 'add', args: [4] }, 0, { delaySeconds: 20 });
    expect([kept.state, dropped.state]).toEqual(['SCHEDULED', 'SCHEDULED']);
    await Promise.all([
      ...Array.from({ length: 5 }, () => sweeper.releaseDue()),
      service.cancel('alice', dropped.id).catch(() => undefined),
    ]);
    expect(store.applied.get(`${kept.id} PENDING`)).toBe(1);
    const after = await store.get(dropped.id);
    // Either the cancel came first (CANCELLED, never released) or the release did (then the cancel of a PENDING task).
    expect(after!.state).toBe('CANCELLED');
    expect((await store.listDue(new Date(Date.now() + 3_600_000).toISOString(), 100)).filter((id) => [kept.id, dropped.id].includes(id))).toEqual([]);
  });

  it('replays at once a batch whose first answer held items not accepted (its claim settled in DynamoDB)', async () => {
    // An item over DynamoDB's 400 KB fails the whole BatchWriteItem call of 25 it is in; the 26th item is recorded.
    const big = 'x'.repeat(420 * 1024);
    const items: BatchItem[] = Array.from({ length: 26 }, (_, index) => ({
      ok: true,
      task: { input: { name: 'add', args: index === 0 ? [big] : [index] } },
    }));
    const first = await service.submitBatch('carol', items, { key: 'settled', requestDigest: 'body' });
    expect(first.results.filter((result) => 'error' in result)).toHaveLength(25);
    const again = await service.submitBatch('carol', items, { key: 'settled', requestDigest: 'body' });
    expect(again.replayed).toBe(true);
    expect(again.results.map((result) => ('task' in result ? result.task.id : result.error.code))).toEqual(
      first.results.map((result) => ('task' in result ? result.task.id : result.error.code)),
    );
  });

  it('makes one batch of 20 concurrent requests with one Idempotency-Key', async () => {
    const items: BatchItem[] = [1, 2, 3].map((n) => ({ ok: true, task: { input: { name: 'add', args: [n] } } }));
    const answers = await Promise.allSettled(
      Array.from({ length: 20 }, () => service.submitBatch('bob', items, { key: 'burst', requestDigest: 'same body' })),
    );
    const ids = new Set<string>();
    for (const answer of answers) {
      if (answer.status === 'rejected') {
        expect(answer.reason).toBeInstanceOf(RequestInProgressError);
        continue;
      }
      for (const result of answer.value.results) if ('task' in result) ids.add(result.task.id);
    }
    expect(ids.size).toBe(3);
    const { tasks } = await service.list('bob', { limit: 100 });
    expect(tasks.map((task) => task.id).sort()).toEqual([...ids].sort());
  });
});
