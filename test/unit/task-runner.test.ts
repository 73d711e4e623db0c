import { setTimeout as wait } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import * as z from 'zod/mini';
import { TaskError, defineTask } from '../../lib/tasks/define-task.ts';
import type { TaskProgress } from '../../lib/tasks/task.ts';
import { TaskCatalog } from '../../lib/tasks/task-catalog.ts';
import { runTask } from '../../lib/tasks/task-runner.ts';

/* The runner between a task's `run` and the worker: time limits, progress, and what a throw becomes. */

function prepared(definition: ReturnType<typeof defineTask>, args: unknown = {}) {
  const result = new TaskCatalog([definition]).prepare(definition.name, args);
  if (!result.ok) throw new Error(result.refused.message);
  return result.task;
}

const options = (saved: TaskProgress[] = [], attempt = 1) => ({
  taskId: 'task_test',
  attempt,
  saveProgress: async (progress: TaskProgress) => {
    saved.push(progress);
    return true;
  },
  progressIntervalMs: 100,
});

describe('runTask', () => {
  it('ends a task that outlives its limit FAILURE timeout, even when run ignores its signal', async () => {
    let signalled = false;
    const stubborn = defineTask({
      name: 'stubborn',
      description: 'Ignores its signal.',
      args: z.object({}),
      timeoutSeconds: 1,
      run: async (_args, ctx) => {
        ctx.signal.addEventListener('abort', () => (signalled = true));
        await wait(3_000);
        return 'too late';
      },
    });
    const started = Date.now();
    const outcome = await runTask(prepared(stubborn), options());
    expect(outcome).toEqual({ state: 'FAILURE', error: { code: 'timeout', message: 'the task ran longer than its limit of 1 s' } });
    expect(Date.now() - started).toBeLessThan(2_500);
    expect(signalled).toBe(true);
  });

  it('stores progress at most once per interval, always the latest, and shows it complete on success', async () => {
    const saved: TaskProgress[] = [];
    const counter = defineTask({
      name: 'counter',
      description: 'Counts to 50 in 5 ms steps.',
      args: z.object({}),
      run: async (_args, ctx) => {
        for (let done = 1; done <= 50; done++) {
          ctx.progress({ done, total: 50 }, `step ${done}`);
          await wait(5);
        }
        return done();
      },
    });
    const done = () => 'counted';
    const outcome = await runTask(prepared(counter), options(saved));
    expect(outcome).toMatchObject({ state: 'SUCCESS', result: 'counted', progress: { fraction: 1, done: 50, total: 50 } });
    // 50 reports over about 250 ms, stored at most every 100 ms: the first at once, then a few.
    expect(saved.length).toBeGreaterThanOrEqual(2);
    expect(saved.length).toBeLessThanOrEqual(5);
    expect(saved[0]).toMatchObject({ fraction: 0.02, done: 1, total: 50, message: 'step 1' });
    const times = saved.map((progress) => Date.parse(progress.at));
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(90);
  });

  it('stops the run through its signal when the record refuses its progress (the task ended elsewhere)', async () => {
    let aborted = false;
    const long = defineTask({
      name: 'long',
      description: 'Reports, then waits on its signal.',
      args: z.object({}),
      run: async (_args, ctx) => {
        ctx.progress(0.1);
        await wait(5_000, undefined, { signal: ctx.signal }).catch((error) => {
          aborted = true;
          throw error;
        });
      },
    });
    const outcome = await runTask(prepared(long), { ...options(), saveProgress: async () => false });
    expect(outcome).toEqual({ state: 'ABANDONED' });
    await wait(10);
    expect(aborted).toBe(true);
  });

  it('ends FAILURE with the code and message of a TaskError, at once, whatever the retries', async () => {
    const picky = defineTask({
      name: 'picky',
      description: 'Refuses.',
      args: z.object({}),
      retries: 3,
      run: () => {
        throw new TaskError('not_found', 'no such thing');
      },
    });
    expect(await runTask(prepared(picky), options())).toEqual({ state: 'FAILURE', error: { code: 'not_found', message: 'no such thing' } });
  });

  it('retries another error while the task has retries left, then ends task_failed without a stack trace', async () => {
    const flaky = defineTask({
      name: 'flaky',
      description: 'Throws.',
      args: z.object({}),
      retries: 1,
      run: () => {
        throw new Error('the upstream said no');
      },
    });
    const message = "the task failed with an unexpected Error; its worker's log has the detail";
    expect(await runTask(prepared(flaky), options([], 1))).toEqual({ state: 'RETRY', error: { code: 'task_failed', message }, delaySeconds: 1 });
    const last = await runTask(prepared(flaky), options([], 2));
    expect(last).toEqual({ state: 'FAILURE', error: { code: 'task_failed', message } });
    // Neither its message (it may name hosts or data) nor its stack reaches the task's record.
    expect(JSON.stringify(last)).not.toContain('upstream');
  });

  it('ends FAILURE invalid_result when run returns what its result schema refuses', async () => {
    const liar = defineTask({
      name: 'liar',
      description: 'Returns a string for an int.',
      args: z.object({}),
      result: z.int(),
      run: () => 'seven' as unknown as number,
    });
    expect(await runTask(prepared(liar), options())).toMatchObject({ state: 'FAILURE', error: { code: 'invalid_result' } });
  });

  it('ends FAILURE invalid_result, not a retry, when the result cannot be stored as JSON', async () => {
    const bigintResult = defineTask({
      name: 'bigint-result',
      description: 'Returns a bigint without a schema for it.',
      args: z.object({}),
      retries: 3,
      run: () => 1n,
    });
    expect(await runTask(prepared(bigintResult), options())).toMatchObject({ state: 'FAILURE', error: { code: 'invalid_result' } });
  });

  it('ends task_failed for anything thrown, even an object that cannot be turned into text', async () => {
    const odd = defineTask({
      name: 'odd',
      description: 'Throws a null-prototype object.',
      args: z.object({}),
      run: () => {
        throw Object.create(null);
      },
    });
    expect(await runTask(prepared(odd), options())).toMatchObject({
      state: 'FAILURE',
      error: { code: 'task_failed', message: expect.stringContaining('unexpected object') },
    });
  });

  it('ignores a bad progress report instead of failing the task', async () => {
    const saved: TaskProgress[] = [];
    const sloppy = defineTask({
      name: 'sloppy',
      description: 'Reports NaN, then a real fraction.',
      args: z.object({}),
      run: (_args, ctx) => {
        ctx.progress(Number.NaN);
        ctx.progress(0.5);
        return 'ok';
      },
    });
    expect(await runTask(prepared(sloppy), options(saved))).toMatchObject({ state: 'SUCCESS', result: 'ok' });
    expect(saved.map((progress) => progress.fraction)).toEqual([0.5]);
  });

  it('ends a run that never yielded FAILURE timeout once it returns past its limit', async () => {
    const busy = defineTask({
      name: 'busy',
      description: 'Spins for 1.2 s without yielding.',
      args: z.object({}),
      timeoutSeconds: 1,
      run: () => {
        const until = Date.now() + 1_200;
        while (Date.now() < until);
        return 'late';
      },
    });
    expect(await runTask(prepared(busy), options())).toEqual({
      state: 'FAILURE',
      error: { code: 'timeout', message: 'the task ran longer than its limit of 1 s' },
    });
  });

  it('keeps the message of a TaskError whose code the API cannot carry, under task_failed', async () => {
    const sloppyCode = defineTask({
      name: 'sloppy-code',
      description: 'Throws a TaskError with a code of spaces and capitals.',
      args: z.object({}),
      run: () => {
        throw new TaskError('Bad Code!', 'the thing was not there');
      },
    });
    expect(await runTask(prepared(sloppyCode), options())).toEqual({
      state: 'FAILURE',
      error: { code: 'task_failed', message: 'the thing was not there' },
    });
  });

  it('keeps the last progress message on success only when it was said of the complete task', async () => {
    const said = (message: string, fraction: number) =>
      defineTask({
        name: 'said',
        description: 'Reports once.',
        args: z.object({}),
        run: (_args, ctx) => {
          ctx.progress(fraction, message);
          return null;
        },
      });
    expect(await runTask(prepared(said('counted', 1)), options())).toMatchObject({ progress: { fraction: 1, message: 'counted' } });
    const stale = await runTask(prepared(said('1 s to go', 0.9)), options());
    expect(stale).toMatchObject({ progress: { fraction: 1 } });
    expect((stale as { progress: object }).progress).not.toHaveProperty('message');
  });
});
