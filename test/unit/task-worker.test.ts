import { describe, expect, it } from 'vitest';
import { UnavailableError } from '../../lib/errors.ts';
import type { StateChange } from '../../lib/ports.ts';
import type { Task, TaskState } from '../../lib/tasks/task.ts';
import { encodeTaskMessage } from '../../lib/tasks/task-message.ts';
import { PoisonMessageError, TaskNotRecordedError, TaskRetryError, TaskWorker } from '../../lib/tasks/task-worker.ts';
import { defineTask } from '../../lib/tasks/define-task.ts';
import { TaskCatalog } from '../../lib/tasks/task-catalog.ts';
import { setTimeout as wait } from 'node:timers/promises';
import * as z from 'zod/mini';
import { MemoryTaskStore } from '../support/memory-task-store.ts';
import { catalog } from '../support/catalog.ts';

const CREATED_AT = '2030-01-01T00:00:00.000Z';
const WORKED_AT = Date.parse('2030-01-01T00:00:01.000Z');
const clock = { now: () => WORKED_AT };

let counter = 0;

/** A task record as the API writes it, PENDING with a fresh id unless `fields` say otherwise. */
function taskRecord(fields: Partial<Task> = {}): Task {
  counter += 1;
  return {
    id: `task_00000000-0000-4000-8000-${String(counter).padStart(12, '0')}`,
    owner: 'alice',
    name: 'add',
    args: ['1', '2', '3'],
    state: 'PENDING',
    createdAt: CREATED_AT,
    updatedAt: CREATED_AT,
    expiresAt: Math.floor(WORKED_AT / 1000) + 86_400,
    ...fields,
  };
}

/** Stores a task as the API would have, in `state`, and returns it with its queue message body. */
async function storedTask(
  store: MemoryTaskStore,
  { name = 'add', args = ['1', '2', '3'], state = 'PENDING' as TaskState, extra = {} as Partial<Task> } = {},
): Promise<{ task: Task; body: string }> {
  const task = taskRecord({ name, args, state, ...extra });
  await store.create(task);
  return { task, body: encodeTaskMessage({ taskId: task.id, name: task.name, args: task.args }) };
}

function setup() {
  const store = new MemoryTaskStore();
  return { store, worker: new TaskWorker({ catalog, store, clock }) };
}

/** A MemoryTaskStore whose writes to a terminal state fail, as an outage at the worst moment would. */
class FinalWriteOutageStore extends MemoryTaskStore {
  override async transition(id: string, change: StateChange): Promise<Task | undefined> {
    if (change.to === 'SUCCESS' || change.to === 'FAILURE') throw new UnavailableError('simulated outage on the final write');
    return super.transition(id, change);
  }
}

describe('TaskWorker.process', () => {
  it('runs a PENDING task to SUCCESS with the exact result', async () => {
    const { store, worker } = setup();
    const { task, body } = await storedTask(store, { name: 'add', args: ['9007199254740993', '1'] });
    await expect(worker.process(body)).resolves.toBe('SUCCESS');
    const done = store.tasks.get(task.id)!;
    expect(done.state).toBe('SUCCESS');
    expect(done.result).toBe('9007199254740994');
    expect(done.error).toBeUndefined();
    expect(done.updatedAt).toBe(new Date(WORKED_AT).toISOString());
    expect(done.createdAt).toBe(CREATED_AT);
  });

  it('computes mul exactly', async () => {
    const { store, worker } = setup();
    const { task, body } = await storedTask(store, { name: 'mul', args: ['-123456789123456789', '987654321987654321'] });
    await worker.process(body);
    expect(store.tasks.get(task.id)!.result).toBe((-123456789123456789n * 987654321987654321n).toString());
  });

  it('skips a duplicate delivery after SUCCESS and leaves the result and updatedAt untouched', async () => {
    const store = new MemoryTaskStore();
    const { task, body } = await storedTask(store);
    await new TaskWorker({ catalog, store, clock }).process(body);
    const first = structuredClone(store.tasks.get(task.id)!);
    const later = new TaskWorker({ catalog, store, clock: { now: () => WORKED_AT + 60_000 } });
    await expect(later.process(body)).resolves.toBe('skipped');
    expect(store.tasks.get(task.id)).toEqual(first);
  });

  it('never overwrites a FAILURE, even when a redelivered message would now succeed', async () => {
    const { store, worker } = setup();
    const failure = { code: 'retries_exhausted', message: 'gave up' };
    const { task, body } = await storedTask(store, { state: 'FAILURE', extra: { error: failure } });
    await expect(worker.process(body)).resolves.toBe('skipped');
    const after = store.tasks.get(task.id)!;
    expect(after.state).toBe('FAILURE');
    expect(after.error).toEqual(failure);
    expect(after.result).toBeUndefined();
    expect(after.updatedAt).toBe(CREATED_AT);
  });

  it('runs a task again from RETRY (a previous attempt failed)', async () => {
    const { store, worker } = setup();
    const { task, body } = await storedTask(store, { state: 'RETRY' });
    await expect(worker.process(body)).resolves.toBe('SUCCESS');
    expect(store.tasks.get(task.id)).toMatchObject({ state: 'SUCCESS', result: 6 });
  });

  it('waits for a record that is late, then ends its task (the API records and queues at once)', async () => {
    const store = new MemoryTaskStore();
    const pauses: number[] = [];
    const task = taskRecord({ args: [1, 2] });
    // The record lands during the worker's third pause.
    const sleep = async (ms: number) => {
      pauses.push(ms);
      if (pauses.length === 3) await store.create(task);
    };
    const worker = new TaskWorker({ catalog, store, clock, sleep });
    await expect(worker.process(encodeTaskMessage({ taskId: task.id, name: 'add', args: [1, 2] }))).resolves.toBe('SUCCESS');
    expect(pauses).toEqual([5, 10, 20]);
    expect(store.tasks.get(task.id)).toMatchObject({ state: 'SUCCESS', result: 3 });
  });

  it('believes a refusal only from a write made once the record was seen: the record may land between the two', async () => {
    const task = taskRecord({ args: [2, 2] });
    // The record is written by the API just after the worker's first write was refused for its absence.
    class LateRecordStore extends MemoryTaskStore {
      override async get(id: string): Promise<Task | undefined> {
        if (!this.tasks.has(id)) await this.create(task);
        return super.get(id);
      }
    }
    const store = new LateRecordStore();
    const worker = new TaskWorker({ catalog, store, clock, sleep: async () => {} });
    await expect(worker.process(encodeTaskMessage({ taskId: task.id, name: 'add', args: [2, 2] }))).resolves.toBe('SUCCESS');
    expect(store.tasks.get(task.id)).toMatchObject({ state: 'SUCCESS', result: 4 });
  });

  it('hands back a message whose task has no record even after a wait, to come back in 2 s, and writes nothing', async () => {
    const store = new MemoryTaskStore();
    const worker = new TaskWorker({ catalog, store, clock, sleep: async () => {} });
    const extended: number[] = [];
    const body = encodeTaskMessage({ taskId: 'task_00000000-0000-4000-8000-999999999999', name: 'add', args: [1] });
    await expect(worker.process(body, { lease: { extend: async (seconds) => void extended.push(seconds) } })).rejects.toBeInstanceOf(
      TaskNotRecordedError,
    );
    expect(extended).toEqual([2]);
    expect(store.tasks.size).toBe(0);
  });

  it('ends the task in FAILURE with unknown_task when the message names an unknown task', async () => {
    const { store, worker } = setup();
    const { task, body } = await storedTask(store, { name: 'pow', args: ['2', '3'] });
    await expect(worker.process(body)).resolves.toBe('FAILURE');
    const failed = store.tasks.get(task.id)!;
    expect(failed.state).toBe('FAILURE');
    expect(failed.error?.code).toBe('unknown_task');
    expect(failed.result).toBeUndefined();
  });

  it.each([
    ['a non-integer argument', ['1', '1.5']],
    ['no arguments', []],
    ['a non-numeric argument', ['abc']],
  ])('ends the task in FAILURE with invalid_args for %s', async (_label, args) => {
    const { store, worker } = setup();
    const { task, body } = await storedTask(store, { args });
    await expect(worker.process(body)).resolves.toBe('FAILURE');
    expect(store.tasks.get(task.id)!.error?.code).toBe('invalid_args');
  });

  it('ends the task in FAILURE with invalid_args when a product would be too long (checked with its args)', async () => {
    const { store, worker } = setup();
    const { task, body } = await storedTask(store, { name: 'mul', args: Array.from({ length: 11 }, () => '9'.repeat(1000)) });
    await expect(worker.process(body)).resolves.toBe('FAILURE');
    expect(store.tasks.get(task.id)!.error).toMatchObject({ code: 'invalid_args', message: expect.stringContaining('a product is limited to') });
  });

  it.each([
    ['not JSON', 'not json'],
    ['an empty body', ''],
    ['JSON that is not an object', '[1,2]'],
    ['a message without a taskId', JSON.stringify({ name: 'add', args: ['1'] })],
    ['a message with number args', JSON.stringify({ taskId: 'task_x', name: 'add', args: [1] })],
    ['a message naming an item that is not a task', JSON.stringify({ taskId: 'login#user#abc', name: 'add', args: ['1'] })],
  ])('throws PoisonMessageError for a body that is %s', async (_label, body) => {
    const { store, worker } = setup();
    await expect(worker.process(body)).rejects.toBeInstanceOf(PoisonMessageError);
    expect(store.tasks.size).toBe(0);
  });

  it('rethrows an outage on the final write and leaves the task in RETRY for the redelivery', async () => {
    const store = new FinalWriteOutageStore();
    const worker = new TaskWorker({ catalog, store, clock });
    const { task, body } = await storedTask(store);
    await expect(worker.process(body)).rejects.toBeInstanceOf(UnavailableError);
    const after = store.tasks.get(task.id)!;
    expect(after.state).toBe('RETRY');
    expect(after.result).toBeUndefined();
  });

  it('completes the task on the redelivery after an outage', async () => {
    const outage = new FinalWriteOutageStore();
    const { task, body } = await storedTask(outage);
    await expect(new TaskWorker({ catalog, store: outage, clock }).process(body)).rejects.toBeInstanceOf(UnavailableError);
    // The same records, now with a healthy store behind them.
    const healthy = new MemoryTaskStore();
    healthy.tasks.set(task.id, outage.tasks.get(task.id)!);
    await expect(new TaskWorker({ catalog, store: healthy, clock }).process(body)).resolves.toBe('SUCCESS');
    expect(healthy.tasks.get(task.id)).toMatchObject({ state: 'SUCCESS', result: 6 });
  });

  it('writes only the end state: one write per task', async () => {
    const store = new (class extends MemoryTaskStore {
      readonly changes: StateChange[] = [];
      override async transition(id: string, change: StateChange): Promise<Task | undefined> {
        this.changes.push(change);
        return super.transition(id, change);
      }
    })();
    const { body } = await storedTask(store);
    await new TaskWorker({ catalog, store, clock }).process(body);
    expect(store.changes.map((change) => change.to)).toEqual(['SUCCESS']);
  });

  it('rethrows an outage on its only write and leaves the task where it was when the RETRY mark fails too', async () => {
    const { store, worker } = setup();
    const { task, body } = await storedTask(store);
    store.failNext('transition', 2); // the SUCCESS write and the RETRY mark both fail
    await expect(worker.process(body)).rejects.toBeInstanceOf(UnavailableError);
    expect(store.tasks.get(task.id)!.state).toBe('PENDING');
  });
});

describe('TaskWorker.process with a message that disagrees with the record', () => {
  it.each([
    ['another task name and args', { name: 'mul', args: ['666', '1000'] }],
    ['the same args written differently', { name: 'add', args: ['01', '2', '3'] }],
    ['args that are not integers', { name: 'add', args: ['1.5'] }],
    ['an unknown task name', { name: 'pow', args: ['1', '2', '3'] }],
    ['fewer args', { name: 'add', args: ['1', '2'] }],
  ])('changes nothing for %s under a real task id', async (_label, input) => {
    const { store, worker } = setup();
    const { task } = await storedTask(store);
    const forged = encodeTaskMessage({ taskId: task.id, ...input });
    await expect(worker.process(forged)).resolves.toBe('skipped');
    await expect(worker.process(forged, { receiveCount: 2 })).resolves.toBe('skipped');
    expect(store.tasks.get(task.id)).toEqual(task);
  });

  it('does not mark the real task RETRY when a forged message meets an outage', async () => {
    const store = new FinalWriteOutageStore();
    const worker = new TaskWorker({ catalog, store, clock });
    const { task } = await storedTask(store);
    const forged = encodeTaskMessage({ taskId: task.id, name: 'mul', args: ['2', '2'] });
    await expect(worker.process(forged)).rejects.toBeInstanceOf(UnavailableError);
    expect(store.tasks.get(task.id)).toEqual(task);
  });

  it('logs a mismatch as a warning naming the task, and a duplicate as info', async () => {
    const lines: { level: string; message: string; fields: Record<string, unknown> }[] = [];
    const log = (level: string) => (message: string, ...fields: Record<string, unknown>[]) => lines.push({ level, message, fields: Object.assign({}, ...fields) });
    const store = new MemoryTaskStore();
    const worker = new TaskWorker({ catalog, store, clock, logger: { info: log('info'), warn: log('warn'), error: log('error') } });
    const { task, body } = await storedTask(store);
    await worker.process(encodeTaskMessage({ taskId: task.id, name: 'mul', args: ['9'] }));
    await worker.process(body);
    await worker.process(body);
    expect(lines.map(({ level, message, fields }) => [level, message, fields.taskId])).toEqual([
      ['warn', 'dropping a message whose input disagrees with its task', task.id],
      ['info', 'task ended', task.id],
      ['info', 'skipping a task that is not runnable', task.id],
    ]);
  });
});

describe('TaskWorker.process on a redelivery', () => {
  it('marks the task RETRY before running it, so the record shows the earlier attempt', async () => {
    const store = new (class extends MemoryTaskStore {
      readonly changes: StateChange[] = [];
      override async transition(id: string, change: StateChange): Promise<Task | undefined> {
        this.changes.push(change);
        return super.transition(id, change);
      }
    })();
    const { task, body } = await storedTask(store);
    await expect(new TaskWorker({ catalog, store, clock }).process(body, { receiveCount: 2 })).resolves.toBe('SUCCESS');
    expect(store.changes.map((change) => change.to)).toEqual(['RETRY', 'SUCCESS']);
    expect(store.tasks.get(task.id)).toMatchObject({ state: 'SUCCESS', result: 6 });
  });

  it('does not run a redelivered task that has already ended', async () => {
    const { store, worker } = setup();
    const { task, body } = await storedTask(store, { state: 'SUCCESS', extra: { result: 6 } });
    await expect(worker.process(body, { receiveCount: 3 })).resolves.toBe('skipped');
    expect(store.tasks.get(task.id)).toEqual(task);
  });
});

describe('TaskWorker.failExhausted', () => {
  it('marks a RETRY task (a worker attempted it) FAILURE with retries_exhausted', async () => {
    const { store, worker } = setup();
    const { task, body } = await storedTask(store, { state: 'RETRY' });
    await expect(worker.failExhausted(body)).resolves.toBe('FAILURE');
    const failed = store.tasks.get(task.id)!;
    expect(failed.state).toBe('FAILURE');
    expect(failed.error?.code).toBe('retries_exhausted');
    expect(failed.updatedAt).toBe(new Date(WORKED_AT).toISOString());
  });

  it('leaves a PENDING task open: nothing shows a worker ever attempted it', async () => {
    const { store, worker } = setup();
    const { task, body } = await storedTask(store, { state: 'PENDING' });
    await expect(worker.failExhausted(body)).resolves.toBe('skipped');
    expect(store.tasks.get(task.id)).toEqual(task);
  });

  it('leaves a RETRY task open when the dead letter carries another input', async () => {
    const { store, worker } = setup();
    const { task } = await storedTask(store, { state: 'RETRY' });
    const forged = encodeTaskMessage({ taskId: task.id, name: 'mul', args: ['1', '2', '3'] });
    await expect(worker.failExhausted(forged)).resolves.toBe('skipped');
    expect(store.tasks.get(task.id)).toEqual(task);
  });

  it('skips a task that already succeeded and keeps its result', async () => {
    const { store, worker } = setup();
    const { task, body } = await storedTask(store, { state: 'SUCCESS', extra: { result: 6 } });
    await expect(worker.failExhausted(body)).resolves.toBe('skipped');
    expect(store.tasks.get(task.id)).toEqual(task);
  });

  it('skips a task that already failed and keeps its original error', async () => {
    const { store, worker } = setup();
    const error = { code: 'invalid_args', message: 'args[0] must be an integer' };
    const { task, body } = await storedTask(store, { state: 'FAILURE', extra: { error } });
    await expect(worker.failExhausted(body)).resolves.toBe('skipped');
    expect(store.tasks.get(task.id)!.error).toEqual(error);
  });

  it('skips a dead letter whose task no longer exists', async () => {
    const { worker } = setup();
    const body = encodeTaskMessage({ taskId: 'task_00000000-0000-4000-8000-999999999999', name: 'add', args: ['1'] });
    await expect(worker.failExhausted(body)).resolves.toBe('skipped');
  });

  it.each(['garbage', '', '{}', 'null'])('drops a dead letter that is not a task message (%j)', async (body) => {
    const { store, worker } = setup();
    await expect(worker.failExhausted(body)).resolves.toBe('skipped');
    expect(store.tasks.size).toBe(0);
  });

  it('rethrows a store outage so the dead letter is retried', async () => {
    const { store, worker } = setup();
    const { task, body } = await storedTask(store, { state: 'RETRY' });
    store.failNext('transition');
    await expect(worker.failExhausted(body)).rejects.toBeInstanceOf(UnavailableError);
    expect(store.tasks.get(task.id)!.state).toBe('RETRY');
  });
});

describe('the task message', () => {
  it('escapes U+FFFE and U+FFFF, which SQS refuses, and reads back the same', () => {
    const message = { taskId: 'task_00000000-0000-4000-8000-000000000001', name: 'echo', args: { text: 'a\uFFFEb\uFFFF' } };
    const body = encodeTaskMessage(message);
    expect(body).not.toMatch(/[\uFFFE\uFFFF]/);
    expect(body).toContain('\\ufffe');
    expect(JSON.parse(body)).toEqual(message);
  });
});

describe('TaskWorker with tasks of its own: heartbeat, retries, progress', () => {
  const slow = defineTask({
    name: 'slow',
    description: 'Reports progress for 600 ms.',
    args: z.strictObject({}),
    timeoutSeconds: 5,
    run: async (_args, ctx) => {
      for (let step = 1; step <= 6; step++) {
        ctx.progress({ done: step, total: 6 });
        await wait(100);
      }
      return 'done';
    },
  });
  const flaky = defineTask({
    name: 'flaky',
    description: 'Throws on every attempt.',
    args: z.strictObject({}),
    retries: 2,
    run: () => {
      throw new Error('upstream down');
    },
  });
  const own = new TaskCatalog([slow, flaky]);

  /** A lease that records every extension. */
  const recordingLease = () => {
    const extensions: number[] = [];
    return { extensions, lease: { extend: async (seconds: number) => void extensions.push(seconds) } };
  };

  async function stored(store: MemoryTaskStore, name: string) {
    const task = taskRecord({ name, args: {} });
    await store.create(task);
    return { task, body: encodeTaskMessage({ taskId: task.id, name, args: {} }) };
  }

  it('keeps the message hidden every third of the visibility timeout while a task runs, and stores its progress', async () => {
    const store = new MemoryTaskStore();
    const worker = new TaskWorker({ catalog: own, store, visibilityTimeoutSeconds: 0.3, progressIntervalMs: 50 });
    const { task, body } = await stored(store, 'slow');
    const { extensions, lease } = recordingLease();
    await expect(worker.process(body, { lease })).resolves.toBe('SUCCESS');
    // About 600 ms of run with a beat every 100 ms.
    expect(extensions.length).toBeGreaterThanOrEqual(3);
    expect(new Set(extensions)).toEqual(new Set([0.3]));
    expect(store.tasks.get(task.id)).toMatchObject({ state: 'SUCCESS', result: 'done', progress: { fraction: 1, done: 6, total: 6 } });
    const beats = extensions.length;
    await wait(250);
    expect(extensions.length).toBe(beats); // the heartbeat stops with the task
  });

  it('marks a task that threw RETRY and sets when it comes back, until its retries are spent, then FAILURE task_failed', async () => {
    const store = new MemoryTaskStore();
    const worker = new TaskWorker({ catalog: own, store });
    const { task, body } = await stored(store, 'flaky');
    for (const [receiveCount, delay] of [[1, 1], [2, 2]] as const) {
      const { extensions, lease } = recordingLease();
      await expect(worker.process(body, { receiveCount, lease })).rejects.toBeInstanceOf(TaskRetryError);
      expect(extensions).toEqual([delay]);
      expect(store.tasks.get(task.id)!.state).toBe('RETRY');
    }
    await expect(worker.process(body, { receiveCount: 3 })).resolves.toBe('FAILURE');
    expect(store.tasks.get(task.id)!.error).toEqual({ code: 'task_failed', message: "the task failed with an unexpected Error; its worker's log has the detail" });
  });

  it('runs a task that is not pure only after marking it started from its record: a forged message never makes it act', async () => {
    const calls: string[] = [];
    const notify = defineTask({
      name: 'notify',
      description: 'Acts on the world.',
      args: z.strictObject({ to: z.string() }),
      run: ({ to }) => {
        calls.push(to);
        return 'sent';
      },
    });
    const store = new MemoryTaskStore();
    const worker = new TaskWorker({ catalog: new TaskCatalog([notify]), store, sleep: async () => {} });
    const task = taskRecord({ name: 'notify', args: { to: 'alice@example.com' } });
    await store.create(task);
    const forged = encodeTaskMessage({ taskId: task.id, name: 'notify', args: { to: 'mallory@example.com' } });
    await expect(worker.process(forged)).resolves.toBe('skipped');
    expect(calls).toEqual([]);
    expect(store.tasks.get(task.id)).toMatchObject({ state: 'PENDING' });
    expect(store.tasks.get(task.id)!.startedAt).toBeUndefined();

    await expect(worker.process(encodeTaskMessage({ taskId: task.id, name: 'notify', args: task.args }))).resolves.toBe('SUCCESS');
    expect(calls).toEqual(['alice@example.com']);
    expect(store.tasks.get(task.id)).toMatchObject({ state: 'SUCCESS', result: 'sent', startedAt: expect.any(String) });
  });

  it('stops a running task whose record ended elsewhere, and writes nothing more', async () => {
    const store = new MemoryTaskStore();
    const worker = new TaskWorker({ catalog: own, store, progressIntervalMs: 50 });
    const { task, body } = await stored(store, 'slow');
    const running = worker.process(body);
    await wait(120);
    await store.transition(task.id, { from: ['PENDING'], to: 'FAILURE', at: CREATED_AT, error: { code: 'cancelled', message: 'by a test' } });
    await expect(running).resolves.toBe('skipped');
    expect(store.tasks.get(task.id)).toMatchObject({ state: 'FAILURE', error: { code: 'cancelled' } });
  });
});
