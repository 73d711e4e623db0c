import { describe, expect, it } from 'vitest';
import type { Task } from '../../lib/tasks/task.ts';
import { TaskSweeper } from '../../lib/tasks/task-sweeper.ts';
import { MemoryTaskStore, RecordingQueue } from '../support/memory-task-store.ts';

const START = Date.parse('2030-01-01T00:00:00.000Z');
const STALE_AFTER_SECONDS = 300;

function task(id: string, overrides: Partial<Task> = {}): Task {
  const at = new Date(START).toISOString();
  return {
    id,
    owner: 'alice',
    name: 'add',
    args: ['1', '2'],
    state: 'PENDING',
    createdAt: at,
    updatedAt: at,
    expiresAt: START / 1000 + 7 * 86_400,
    ...overrides,
  };
}

function harness() {
  const store = new MemoryTaskStore();
  const queue = new RecordingQueue();
  const clock = { ms: START, now: () => clock.ms };
  const sweeper = new TaskSweeper({ store, queue, staleAfterSeconds: STALE_AFTER_SECONDS, clock });
  return { store, queue, clock, sweeper };
}

describe('TaskSweeper', () => {
  it('leaves a task alone until it has been open for the stale period', async () => {
    const { store, queue, clock, sweeper } = harness();
    await store.create(task('task_a'));
    clock.ms = START + (STALE_AFTER_SECONDS - 1) * 1000;
    expect(await sweeper.sweep()).toEqual({ candidates: 0, requeued: 0, released: 0, webhooks: 0 });
    expect(queue.sent).toEqual([]);
  });

  it('queues a stale open task again with its own name and args', async () => {
    const { store, queue, clock, sweeper } = harness();
    await store.create(task('task_a', { name: 'mul', args: ['6', '7'] }));
    clock.ms = START + STALE_AFTER_SECONDS * 1000;
    expect(await sweeper.sweep()).toEqual({ candidates: 1, requeued: 1, released: 0, webhooks: 0 });
    expect(queue.sent).toEqual([{ taskId: 'task_a', name: 'mul', args: ['6', '7'] }]);
    expect(store.tasks.get('task_a')).toMatchObject({ state: 'PENDING', requeues: 1 });
  });

  it('does not queue again a task a worker started or heard from within the stale period', async () => {
    const { store, queue, clock, sweeper } = harness();
    const late = new Date(START + 200_000).toISOString();
    await store.create(task('task_started', { startedAt: late }));
    await store.create(task('task_reporting', { progress: { fraction: 0.5, at: late } }));
    clock.ms = START + STALE_AFTER_SECONDS * 1000;
    expect(await sweeper.sweep()).toEqual({ candidates: 2, requeued: 0, released: 0, webhooks: 0 });
    clock.ms = START + 200_000 + STALE_AFTER_SECONDS * 1000;
    expect(await sweeper.sweep()).toEqual({ candidates: 2, requeued: 2, released: 0, webhooks: 0 });
    expect(queue.sent.map((message) => message.taskId).sort()).toEqual(['task_reporting', 'task_started']);
  });

  it('backs off exponentially between requeues of one task', async () => {
    const { store, queue, clock, sweeper } = harness();
    await store.create(task('task_a'));
    const sentAt: number[] = [];
    // Sweep once a minute for an hour, as the schedule does.
    for (let minute = 1; minute <= 60; minute += 1) {
      clock.ms = START + minute * 60_000;
      if ((await sweeper.sweep()).requeued) sentAt.push(minute);
    }
    // Due 5 min after creation, then 10, 20 and 40 min after each previous requeue.
    expect(sentAt).toEqual([5, 15, 35]);
    expect(queue.sent).toHaveLength(3);
  });

  it('never touches tasks that have ended or expired', async () => {
    const { store, queue, clock, sweeper } = harness();
    await store.create(task('task_done', { state: 'SUCCESS', result: '3' }));
    await store.create(task('task_failed', { state: 'FAILURE', error: { code: 'invalid_args', message: 'x' } }));
    await store.create(task('task_expired', { expiresAt: START / 1000 + 60 }));
    clock.ms = START + 3600_000;
    expect((await sweeper.sweep()).requeued).toBe(0);
    expect(queue.sent).toEqual([]);
  });

  it('requeues RETRY tasks too: their last attempt failed and its message may be gone', async () => {
    const { store, queue, clock, sweeper } = harness();
    await store.create(task('task_retry', { state: 'RETRY' }));
    clock.ms = START + STALE_AFTER_SECONDS * 1000;
    expect((await sweeper.sweep()).requeued).toBe(1);
    expect(queue.sent.map((message) => message.taskId)).toEqual(['task_retry']);
  });

  it('sends once when two sweeps overlap', async () => {
    const { store, queue, clock, sweeper } = harness();
    await store.create(task('task_a'));
    clock.ms = START + STALE_AFTER_SECONDS * 1000;
    const reports = await Promise.all([sweeper.sweep(), sweeper.sweep()]);
    expect(reports.reduce((sum, report) => sum + report.requeued, 0)).toBe(1);
    expect(queue.sent).toHaveLength(1);
  });
});
