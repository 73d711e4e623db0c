import { describe, expect, it } from 'vitest';
import * as z from 'zod/mini';
import { defineTask } from '../../lib/tasks/define-task.ts';
import { TaskCatalog } from '../../lib/tasks/task-catalog.ts';
import { catalog } from '../support/catalog.ts';

/* The one contract: how requests are refused, and the queue settings that follow from the limits. */

describe('TaskCatalog.prepareRequest', () => {
  it('names the known tasks when the name is unknown', () => {
    expect(catalog.prepareRequest({ name: 'pow', args: [1] })).toEqual({
      ok: false,
      refused: { code: 'unknown_task', message: `unknown task "pow"; known tasks: ${catalog.names.join(', ')}` },
    });
  });

  it('names each field and its rule, at most three, then how many more', () => {
    const refused = catalog.prepareRequest({ name: 'add', args: [1.5, 'x', null, true, {}] });
    expect(refused).toMatchObject({ ok: false, refused: { code: 'invalid_args' } });
    expect(!refused.ok && refused.refused.message).toBe(
      'args[0] must be an integer, got 1.5; args[1] must be a decimal integer string, got "x"; ' +
        'args[2] must be an integer (a JSON number or a decimal string), got null; and 2 more',
    );
  });

  it('words the rules of an object schema, and unknown fields', () => {
    const refused = catalog.prepareRequest({ name: 'sleep', args: { ms: 999_999, extra: 1 } });
    expect(!refused.ok && refused.refused.message).toBe('args.ms must be at most 120000; unknown field extra in args; remove it');
    const missing = catalog.prepareRequest({ name: 'sleep', args: {} });
    expect(!missing.ok && missing.refused.message).toBe('args.ms is required');
  });

  it('refuses a body that is not an object, and unknown top-level fields', () => {
    expect(catalog.prepareRequest([1])).toMatchObject({ ok: false, refused: { message: expect.stringContaining('JSON object') } });
    const extra = catalog.prepareRequest({ name: 'add', args: [1], wait: 1 });
    expect(!extra.ok && extra.refused.message).toBe('unknown field wait; remove it');
  });

  it('gives one canonical input for args that mean the same', () => {
    const a = catalog.prepareRequest({ name: 'add', args: [1, '02', '-0'] });
    const b = catalog.prepareRequest({ name: 'add', args: ['1', 2, 0] });
    expect(a.ok && a.task.input).toEqual({ name: 'add', args: [1, 2, 0] });
    expect(b.ok && b.task.input).toEqual(a.ok && a.task.input);
  });
});

describe('TaskCatalog.queueSettings', () => {
  const task = (name: string, timeoutSeconds: number, retries = 0) =>
    defineTask({ name, description: 'A test task.', args: z.object({}), timeoutSeconds, retries, run: () => null });

  it('gives the worker the longest limit and a margin, the queue 6x that, the redrive the most retries', () => {
    expect(new TaskCatalog([task('a', 5), task('b', 200, 2)]).queueSettings()).toEqual({
      workerTimeoutSeconds: 210,
      visibilityTimeoutSeconds: 1260,
      maxReceiveCount: 5,
      batchSize: 1,
      sweepAfterSeconds: 420,
    });
    expect(new TaskCatalog([task('a', 5)]).queueSettings()).toEqual({
      workerTimeoutSeconds: 15,
      visibilityTimeoutSeconds: 90,
      maxReceiveCount: 3,
      batchSize: 10,
      sweepAfterSeconds: 300,
    });
  });

  it('refuses two tasks of one name, and bad names or limits when a task is defined', () => {
    expect(() => new TaskCatalog([task('a', 5), task('a', 6)])).toThrow('two tasks are named "a"');
    expect(() => task('Bad Name', 5)).toThrow(/lower-case/);
    expect(() => task('ok', 0)).toThrow(/timeoutSeconds/);
    expect(() => task('ok', 5, 9)).toThrow(/retries/);
  });
});
