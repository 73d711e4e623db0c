import { describe, expect, it } from 'vitest';
import { age, formatTaskTable, formatWebhook, roughDuration, taskNote } from '../../client/src/task-table.ts';
import type { TaskView } from '../../client/src/types.ts';

const NOW = Date.parse('2026-12-01T12:00:00.000Z');
const ID = 'task_1db8fd1f-aff0-4db6-9c9a-ada3d20cb006';

/** A task created `secondsAgo` before NOW; override what a test cares about. */
function task(overrides: Partial<TaskView> = {}, secondsAgo = 12): TaskView {
  const createdAt = new Date(NOW - secondsAgo * 1000).toISOString();
  return {
    id: ID,
    name: 'add',
    args: [1, 2],
    state: 'PENDING',
    createdAt,
    updatedAt: createdAt,
    expiresAt: new Date(NOW + 86_400_000).toISOString(),
    ...overrides,
  };
}

const inSeconds = (seconds: number) => new Date(NOW + seconds * 1000).toISOString();

describe('age', () => {
  it.each<[number, string]>([
    [0, '0s'],
    [12.9, '12s'],
    [59, '59s'],
    [60, '1m'],
    [5 * 60 + 59, '5m'],
    [3 * 3_600 + 1_799, '3h'],
    [86_399, '23h'],
    [2 * 86_400 + 80_000, '2d'],
  ])('%d s after creation reads %s: the largest whole unit, rounded down', (seconds, expected) => {
    expect(age(new Date(NOW - seconds * 1000).toISOString(), NOW)).toBe(expected);
  });

  it('reads 0s for a creation time ahead of this clock (skew)', () => {
    expect(age(inSeconds(30), NOW)).toBe('0s');
  });
});

describe('roughDuration', () => {
  it.each<[number, string]>([
    [0, '0s'],
    [0.4, '0s'],
    [45, '45s'],
    [90, '1m30s'],
    [1_199.6, '20m'],
    [1_110, '19m'],
    [1_199, '20m'],
    [59.6, '1m'],
    [9 * 60 + 30, '9m30s'],
    [3 * 3_600 + 26 * 60 + 10, '3h26m'],
    [12 * 3_600 + 40 * 60, '13h'],
    [3_599.7, '1h'],
    [5_400, '1h30m'],
    [5_430, '1h30m'],
    [86_400, '1d'],
    [604_799, '6d23h'],
    [-5, '0s'],
  ])('%d s reads %s: two units, or one from ten of it on, rounded', (seconds, expected) => {
    expect(roughDuration(seconds)).toBe(expected);
  });
});

describe('taskNote', () => {
  it('shows the result of a task that succeeded: text and numbers as they are, else compact JSON', () => {
    expect(taskNote(task({ state: 'SUCCESS', result: 3 }), NOW)).toBe('3');
    expect(taskNote(task({ state: 'SUCCESS', result: '123456789012345678901234567890' }), NOW)).toBe('123456789012345678901234567890');
    expect(taskNote(task({ state: 'SUCCESS', result: { slept: 5 } }), NOW)).toBe('{"slept":5}');
    expect(taskNote(task({ state: 'SUCCESS', result: null }), NOW)).toBe('null');
  });

  it('shows code: message of a task that failed', () => {
    const failed = task({ state: 'FAILURE', error: { code: 'timeout', message: 'the task ran past its 10 s limit' } });
    expect(taskNote(failed, NOW)).toBe('timeout: the task ran past its 10 s limit');
  });

  it('shows when a task set to run later runs, SCHEDULED or PENDING', () => {
    expect(taskNote(task({ state: 'SCHEDULED', runAt: inSeconds(18 * 60) }), NOW)).toBe('runs in 18m');
    expect(taskNote(task({ state: 'PENDING', runAt: inSeconds(90) }), NOW)).toBe('runs in 1m30s');
  });

  it('shows how far a running task is once its time has come', () => {
    const progress = { fraction: 0.55, message: '3 s to go', at: inSeconds(-1) };
    expect(taskNote(task({ state: 'RETRY', runAt: inSeconds(-60), progress }), NOW)).toBe('55% 3 s to go');
    expect(taskNote(task({ progress: { fraction: 0.2, at: inSeconds(-1) } }), NOW)).toBe('20%');
  });

  it('is empty for a task waiting with nothing to say, and for a cancelled one', () => {
    expect(taskNote(task(), NOW)).toBe('');
    expect(taskNote(task({ state: 'PENDING', runAt: inSeconds(-5) }), NOW)).toBe('');
    expect(taskNote(task({ state: 'CANCELLED', runAt: inSeconds(600) }), NOW)).toBe('');
  });

  it('keeps a multi-line or escape-laden message on one line', () => {
    const failed = task({ state: 'FAILURE', error: { code: 'task_failed', message: 'line one\nline two\u001b[31m red\r\n' } });
    expect(taskNote(failed, NOW)).toBe('task_failed: line one line two [31m red');
  });
});

describe('formatTaskTable', () => {
  const tasks: TaskView[] = [
    task({ id: 'task_aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', name: 'add', state: 'SUCCESS', result: 6 }, 12),
    task({ id: 'task_bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', name: 'sleep', state: 'SCHEDULED', args: { ms: 5 }, runAt: inSeconds(18 * 60) }, 180),
    task(
      { id: 'task_cccccccc-cccc-4ccc-8ccc-cccccccccccc', name: 'mul', state: 'FAILURE', error: { code: 'timeout', message: 'the task ran past its 10 s limit' } },
      7_200,
    ),
    task({ id: 'task_dddddddd-dddd-4ddd-8ddd-dddddddddddd', name: 'primes', state: 'CANCELLED' }, 2 * 86_400),
  ];

  it('lines the columns up under a header, one task a line, in the order given', () => {
    expect(formatTaskTable(tasks, { now: NOW, width: 120 })).toEqual([
      'ID                                         NAME    STATE      AGE  RESULT',
      'task_aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa  add     SUCCESS    12s  6',
      'task_bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb  sleep   SCHEDULED  3m   runs in 18m',
      'task_cccccccc-cccc-4ccc-8ccc-cccccccccccc  mul     FAILURE    2h   timeout: the task ran past its 10 s limit',
      'task_dddddddd-dddd-4ddd-8ddd-dddddddddddd  primes  CANCELLED  2d',
    ]);
  });

  it('cuts the result column to the width, with an ellipsis', () => {
    const lines = formatTaskTable(tasks, { now: NOW, width: 80 });
    expect(lines.every((line) => line.length <= 80)).toBe(true);
    expect(lines[3]).toBe('task_cccccccc-cccc-4ccc-8ccc-cccccccccccc  mul     FAILURE    2h   timeout: the…');
    expect(lines[1]).toBe('task_aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa  add     SUCCESS    12s  6');
  });

  it('keeps some of the result on a terminal too narrow for the other columns', () => {
    const [, line] = formatTaskTable([task({ state: 'SUCCESS', result: 'x'.repeat(50) })], { now: NOW, width: 40 });
    expect(line).toMatch(/ x{11}…$/);
  });

  it('does not split a character in two when it cuts', () => {
    const [, line] = formatTaskTable([task({ state: 'SUCCESS', result: '😀'.repeat(40) })], { now: NOW, width: 80 });
    expect(line!.endsWith('😀…')).toBe(true);
  });

  it('is only the header for no tasks', () => {
    expect(formatTaskTable([], { now: NOW, width: 100 })).toEqual(['ID  NAME  STATE  AGE  RESULT']);
  });
});

describe('formatWebhook (lookup)', () => {
  const id = 'msg_1db8fd1f-aff0-4db6-9c9a-ada3d20cb006';
  it.each<[Parameters<typeof formatWebhook>[0], string]>([
    [{ id, state: 'delivered', attempts: 1, lastStatus: 204 }, 'delivered (1 attempt, HTTP 204)'],
    [{ id, state: 'delivered', attempts: 3, lastStatus: 200 }, 'delivered (3 attempts, HTTP 200)'],
    [
      { id, state: 'pending', attempts: 2, lastStatus: 500, lastAttemptAt: inSeconds(-5), nextAttemptAt: inSeconds(30) },
      `pending (2 attempts, last HTTP 500, next at ${inSeconds(30)}, in 30s)`,
    ],
    [{ id, state: 'pending', attempts: 1, lastError: 'connect ECONNREFUSED\n10.0.0.1:443', nextAttemptAt: inSeconds(-1) }, `pending (1 attempt, last error: connect ECONNREFUSED 10.0.0.1:443, next at ${inSeconds(-1)})`],
    [{ id, state: 'pending', attempts: 0 }, 'pending (not sent yet)'],
    [{ id, state: 'failed', attempts: 6, lastStatus: 503 }, 'failed (6 attempts, last HTTP 503)'],
    [{ id, state: 'failed', attempts: 1, lastError: 'the address 10.0.0.1 is not allowed' }, 'failed (1 attempt, last error: the address 10.0.0.1 is not allowed)'],
  ])('%j reads %j', (webhook, expected) => {
    expect(formatWebhook(webhook, NOW)).toBe(expected);
  });
});

describe('formatTaskTable with completion webhooks', () => {
  it('adds a WEBHOOK column, its state and the last status while not delivered, only when a task shown has a delivery', () => {
    const id = 'msg_x';
    const tasks: TaskView[] = [
      task({ id: 'task_aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', state: 'SUCCESS', result: 3, webhook: { id, state: 'delivered', attempts: 1, lastStatus: 204 } }),
      task({ id: 'task_bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', state: 'SUCCESS', result: 4, webhook: { id, state: 'pending', attempts: 2, lastStatus: 503 } }),
      task({ id: 'task_cccccccc-cccc-4ccc-8ccc-cccccccccccc', state: 'CANCELLED', webhook: { id, state: 'failed', attempts: 6, lastError: 'timeout' } }),
      task({ id: 'task_dddddddd-dddd-4ddd-8ddd-dddddddddddd', callbackUrl: 'https://example.com/hook' }),
    ];
    expect(formatTaskTable(tasks, { now: NOW, width: 120 })).toEqual([
      'ID                                         NAME  STATE      AGE  WEBHOOK           RESULT',
      'task_aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa  add   SUCCESS    12s  delivered         3',
      'task_bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb  add   SUCCESS    12s  pending HTTP 503  4',
      'task_cccccccc-cccc-4ccc-8ccc-cccccccccccc  add   CANCELLED  12s  failed',
      'task_dddddddd-dddd-4ddd-8ddd-dddddddddddd  add   PENDING    12s',
    ]);
    expect(formatTaskTable(tasks.slice(3), { now: NOW, width: 120 })[0]).toBe('ID                                         NAME  STATE    AGE  RESULT');
  });
});
