/**
 * The typed `DoozerClient.run`, checked by the compiler: `npm run typecheck` (tsc over test/) fails
 * when a type here is wrong, and every `@ts-expect-error` fails it when the line it marks compiles.
 * The calls sit in functions that never run: vitest runs this file too, but only its last test does
 * anything at run time.
 */
import { readFile, readdir } from 'node:fs/promises';
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  type BatchItemError,
  type BatchItemResult,
  DoozerClient,
  type RunResult,
  type TaskArgs,
  type TaskPage,
  type TaskProgress,
  type TaskResult,
  type TaskView,
  type TaskViewOf,
  type WireInteger,
  type WireSchema,
} from '../../client/src/index.ts';
// Only the types of the tasks: a typed client loads nothing of the server's code. The built-ins, not
// tasks/index.ts, so that a task added there (the README's recipe) leaves this file true.
import type { add } from '../../tasks/add.ts';
import type { mul } from '../../tasks/mul.ts';
import type { primes } from '../../tasks/primes.ts';
import type { sleep } from '../../tasks/sleep.ts';

type Tasks = readonly [typeof add, typeof mul, typeof sleep, typeof primes];
type SleepView = TaskView<{ ms: number }, { slept: number }, 'sleep'>;
type PrimesView = TaskView<{ below: number }, { below: number; count: number }, 'primes'>;
type AddView = TaskView<WireInteger[], WireInteger, 'add'>;
type MulView = TaskView<WireInteger[], WireInteger, 'mul'>;

describe('DoozerClient<typeof TASKS>', () => {
  it("types run's args and result from each task's schemas", () => {
    async function typed(client: DoozerClient<Tasks>) {
      const sleep = await client.run('sleep', { ms: 3000 });
      expectTypeOf(sleep).toEqualTypeOf<RunResult<SleepView>>();
      expectTypeOf(sleep.task.result).toEqualTypeOf<{ slept: number } | undefined>();
      expectTypeOf(sleep.task.args).toEqualTypeOf<{ ms: number }>();
      expectTypeOf(sleep.task.name).toEqualTypeOf<'sleep'>();
      expectTypeOf(sleep.task.progress).toEqualTypeOf<TaskProgress | undefined>();

      const primes = await client.run('primes', { below: 1_000 }, { wait: 1 });
      expectTypeOf(primes.task.result).toEqualTypeOf<{ below: number; count: number } | undefined>();

      // Exact integers travel as JSON numbers or decimal strings: the input side of their codec.
      const sum = await client.run('add', [1, '123456789012345678901234567890']);
      expectTypeOf(sum.task.args).toEqualTypeOf<WireInteger[]>();
      expectTypeOf(sum.task.result).toEqualTypeOf<WireInteger | undefined>();
    }
    expectTypeOf(typed).toBeFunction();
  });

  it('refuses unknown names and wrong args at compile time', () => {
    function refused(client: DoozerClient<Tasks>) {
      // @ts-expect-error: no task of that name
      void client.run('nope', {});
      // @ts-expect-error: ms is a number
      void client.run('sleep', { ms: '3000' });
      // @ts-expect-error: ms is required
      void client.run('sleep', {});
      // @ts-expect-error: sleep's args are a strict object
      void client.run('sleep', { ms: 1, extra: true });
      // @ts-expect-error: the args of another task
      void client.run('primes', { ms: 1 });
      // @ts-expect-error: add takes a list of integers
      void client.run('add', { ms: 1 });
      // @ts-expect-error: booleans are not integers
      void client.run('mul', [true]);
      // @ts-expect-error: the args are required
      void client.run('sleep');
      // @ts-expect-error: submit is for add and mul only
      void client.submit('sleep', [1]);
    }
    expectTypeOf(refused).toBeFunction();
  });

  it('types views looked up by id as a union that task.name narrows', () => {
    async function lookedUp(client: DoozerClient<Tasks>) {
      const task = await client.get('task_1db8fd1f-aff0-4db6-9c9a-ada3d20cb006');
      expectTypeOf(task).toEqualTypeOf<AddView | MulView | SleepView | PrimesView>();
      if (task.name === 'sleep') expectTypeOf(task.result).toEqualTypeOf<{ slept: number } | undefined>();
      const waited = await client.waitFor(task.id, { timeoutMs: 1_000, onProgress: (view) => expectTypeOf(view).toEqualTypeOf<TaskViewOf<Tasks>>() });
      expectTypeOf(waited).toEqualTypeOf<TaskViewOf<Tasks>>();
    }
    expectTypeOf(lookedUp).toBeFunction();
  });

  it('types listed and cancelled tasks, narrowing to the task named in the filter', () => {
    async function listed(client: DoozerClient<Tasks>) {
      for await (const task of client.list({ name: 'sleep', state: 'SUCCESS' })) {
        expectTypeOf(task).toEqualTypeOf<SleepView>();
        expectTypeOf(task.result).toEqualTypeOf<{ slept: number } | undefined>();
      }
      for await (const task of client.list()) expectTypeOf(task).toEqualTypeOf<TaskViewOf<Tasks>>();
      expectTypeOf(await client.listPage({ name: 'primes', limit: 5 })).toEqualTypeOf<TaskPage<PrimesView>>();
      expectTypeOf((await client.listPage()).next).toEqualTypeOf<string | null>();
      expectTypeOf(await client.cancel('task_x')).toEqualTypeOf<TaskViewOf<Tasks>>();
      // @ts-expect-error: no task of that name
      void client.list({ name: 'nope' });
      // @ts-expect-error: not a state
      void client.list({ state: 'DONE' });
    }
    expectTypeOf(listed).toBeFunction();
  });

  it('checks the items of a batch like run, and types the results as task or error', () => {
    async function batch(client: DoozerClient<Tasks>) {
      const { results, replayed } = await client.submitBatch(
        [
          { name: 'sleep', args: { ms: 1 } },
          { name: 'add', args: [1, '2'], delaySeconds: 60 },
          { name: 'primes', args: { below: 10 }, runAt: new Date() },
        ],
        { idempotencyKey: 'k' },
      );
      expectTypeOf(replayed).toEqualTypeOf<boolean>();
      expectTypeOf(results).toEqualTypeOf<BatchItemResult<TaskViewOf<Tasks>>[]>();
      const [first] = results;
      if (first?.task) expectTypeOf(first.task).toEqualTypeOf<TaskViewOf<Tasks>>();
      else if (first) expectTypeOf(first.error).toEqualTypeOf<BatchItemError>();
      // @ts-expect-error: ms is a number
      void client.submitBatch([{ name: 'sleep', args: { ms: '1' } }]);
      // @ts-expect-error: no task of that name
      void client.submitBatch([{ name: 'nope', args: {} }]);
      // @ts-expect-error: runAt or delaySeconds, not both
      void client.submitBatch([{ name: 'sleep', args: { ms: 1 }, runAt: new Date(), delaySeconds: 5 }]);
    }
    expectTypeOf(batch).toBeFunction();
  });

  it('takes runAt or delaySeconds to run later, not both', () => {
    function later(client: DoozerClient<Tasks>) {
      void client.run('sleep', { ms: 1 }, { runAt: new Date() });
      void client.run('sleep', { ms: 1 }, { runAt: '2026-12-01T18:30:00Z' });
      void client.run('sleep', { ms: 1 }, { delaySeconds: 60, wait: 0 });
      void client.submit('add', [1n], { delaySeconds: 60 });
      // @ts-expect-error: not both
      void client.run('sleep', { ms: 1 }, { runAt: new Date(), delaySeconds: 60 });
      // @ts-expect-error: a delay is a number of seconds
      void client.submit('add', [1], { delaySeconds: '60' });
    }
    expectTypeOf(later).toBeFunction();
  });

  it('exposes the args and result types of a task', () => {
    expectTypeOf<TaskArgs<Tasks, 'sleep'>>().toEqualTypeOf<{ ms: number }>();
    expectTypeOf<TaskResult<Tasks, 'primes'>>().toEqualTypeOf<{ below: number; count: number }>();
    expectTypeOf<TaskArgs<Tasks, 'mul'>>().toEqualTypeOf<WireInteger[]>();
  });
});

describe('DoozerClient without a task list', () => {
  it('takes any name and any args, and gives plain views', () => {
    async function untyped(client: DoozerClient) {
      const { task } = await client.run('whatever', { any: ['thing'] });
      expectTypeOf(task).toEqualTypeOf<TaskView>();
      expectTypeOf(task.result).toEqualTypeOf<unknown>();
      expectTypeOf(task.name).toEqualTypeOf<string>();
      expectTypeOf(await client.get('task_x')).toEqualTypeOf<TaskView>();
      // submit keeps its integer types.
      const { task: sum } = await client.submit('add', [1n, '2', 3]);
      expectTypeOf(sum.result).toEqualTypeOf<WireInteger | undefined>();
      for await (const listed of client.list({ name: 'anything' })) expectTypeOf(listed).toEqualTypeOf<TaskView>();
      const { results } = await client.submitBatch([{ name: 'whatever', args: { any: 1 } }]);
      expectTypeOf(results).toEqualTypeOf<BatchItemResult<TaskView>[]>();
    }
    expectTypeOf(untyped).toBeFunction();
  });
});

describe('a task list described without zod', () => {
  it('works from the shape alone: a name and schemas with a wire type', () => {
    const tasks = [
      { name: 'echo', args: {} as WireSchema<{ text: string }>, result: {} as WireSchema<string> },
      { name: 'ping', args: {} as WireSchema<null> },
    ] as const;
    async function shaped(client: DoozerClient<typeof tasks>) {
      expectTypeOf((await client.run('echo', { text: 'hi' })).task.result).toEqualTypeOf<string | undefined>();
      // A task without a result schema answers any JSON.
      expectTypeOf((await client.run('ping', null)).task.result).toEqualTypeOf<unknown>();
      // @ts-expect-error: text is required
      void client.run('echo', {});
    }
    expectTypeOf(shaped).toBeFunction();
  });
});

describe('the published declarations', () => {
  it('depend on neither zod nor the server code (client/dist, as built)', async () => {
    const dist = new URL('../../client/dist/', import.meta.url);
    const declarations = (await readdir(dist)).filter((file) => file.endsWith('.d.ts'));
    expect(declarations).toContain('index.d.ts');
    for (const file of declarations) {
      const source = await readFile(new URL(file, dist), 'utf8');
      const imports = [...source.matchAll(/from '([^']+)'/g)].map((match) => match[1]);
      expect(imports.every((path) => path?.startsWith('./')), `${file} imports ${imports.join(', ')}`).toBe(true);
    }
  });
});
