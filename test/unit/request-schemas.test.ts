import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TaskError } from '../../lib/errors.ts';
import { TaskArgumentSchema, TaskRequestSchema } from '../../lib/http/request-body.ts';
import { IdempotencyKeySchema, TaskIdSchema } from '../../lib/http/request-params.ts';
import { WaitQuerySchema } from '../../lib/http/wait-preference.ts';
import { isIdempotencyKey } from '../../lib/tasks/idempotency.ts';
import { parseInteger } from '../../lib/tasks/integers.ts';
import { prepareTask } from '../../lib/tasks/registry.ts';
import { isTaskId } from '../../lib/tasks/task.ts';
import { MAX_WAIT_SECONDS } from '../../lib/tasks/wait-policy.ts';

/* The HTTP schemas (which the API document is generated from) against the checks of lib/tasks that
 * the service and the worker apply again: they must accept and refuse the same values. */

/** The message of the TaskError `run` throws, or undefined when it does not throw. */
function taskErrorOf(run: () => unknown): string | undefined {
  try {
    run();
    return undefined;
  } catch (error) {
    if (error instanceof TaskError) return error.message;
    throw error;
  }
}

describe('TaskArgumentSchema', () => {
  const argument = fc.oneof(
    fc.maxSafeInteger(),
    fc.integer(),
    fc.double(),
    fc.constantFrom(2 ** 53, -(2 ** 53), 1e21, -0, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER),
    fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }).map(String),
    fc.stringMatching(/^[-+ ]?\d{0,4}([.e]\d)?$/),
    fc.constantFrom('1'.repeat(1000), '1'.repeat(1001), `-${'1'.repeat(1000)}`, `-${'1'.repeat(1001)}`, '-', '', '١٢'),
    fc.string({ maxLength: 4 }),
    fc.jsonValue({ maxDepth: 1 }),
  );

  it('accepts exactly the arguments that parseInteger accepts', () => {
    fc.assert(
      fc.property(argument, (value) => {
        expect(TaskArgumentSchema.safeParse(value).success).toBe(taskErrorOf(() => parseInteger(value, 'args[0]')) === undefined);
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses an argument with the message the task registry gives, naming its index', () => {
    fc.assert(
      fc.property(fc.array(argument, { minLength: 1, maxLength: 4 }), (args) => {
        const result = TaskRequestSchema.safeParse({ name: 'add', args });
        const expected = taskErrorOf(() => prepareTask('add', args));
        if (expected === undefined) expect(result.success).toBe(true);
        else expect(result.error?.issues[0]?.message).toBe(expected);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('TaskRequestSchema', () => {
  it.each([
    ['an unknown task', { name: 'pow', args: [1] }],
    ['no arguments', { name: 'add', args: [] }],
    ['1001 arguments', { name: 'mul', args: Array.from({ length: 1001 }, () => 1) }],
  ])('refuses %s with the message the task registry gives', (_label, body) => {
    const result = TaskRequestSchema.safeParse(body);
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((issue) => issue.message)).toEqual([taskErrorOf(() => prepareTask(body.name, body.args))]);
  });
});

describe('TaskIdSchema', () => {
  it('accepts exactly the ids that isTaskId accepts', () => {
    const id = fc.oneof(
      fc.uuid({ version: 4 }).map((uuid) => `task_${uuid}`),
      fc.uuid().map((uuid) => `task_${uuid}`),
      fc.uuid({ version: 4 }).map((uuid) => `task_${uuid.toUpperCase()}`),
      fc.uuid({ version: 4 }).map((uuid) => `task_${uuid}\n`),
      fc.uuid({ version: 4 }),
      fc.string(),
    );
    fc.assert(fc.property(id, (value) => {
        expect(TaskIdSchema.safeParse(value).success).toBe(isTaskId(value));
      }), { numRuns: 1000 });
  });
});

describe('IdempotencyKeySchema', () => {
  it('accepts exactly the keys that isIdempotencyKey accepts', () => {
    const character = fc.oneof({ weight: 20, arbitrary: fc.integer({ min: 0x20, max: 0x7e }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 0x2ff }) });
    const key = fc.oneof(
      fc.array(character, { maxLength: 20 }).map((codes) => String.fromCharCode(...codes)),
      fc.constantFrom('k'.repeat(255), 'k'.repeat(256), 'k'.repeat(254) + '\n'),
    );
    fc.assert(fc.property(key, (value) => {
        expect(IdempotencyKeySchema.safeParse(value).success).toBe(isIdempotencyKey(value));
      }), { numRuns: 1000 });
  });
});

describe('WaitQuerySchema', () => {
  /** The rule as arithmetic: a plain decimal from 0 to the maximum. */
  const inRange = (value: string) => /^\d+(\.\d+)?$/.test(value) && Number(value) <= MAX_WAIT_SECONDS;

  it('accepts exactly the decimals from 0 to the maximum wait', () => {
    const wait = fc.oneof(
      fc.stringMatching(/^0{0,2}\d{1,2}(\.\d{1,6})?$/),
      fc.integer({ min: 0, max: 10 }).map(String),
      fc.constantFrom(`${MAX_WAIT_SECONDS}.0`, `${MAX_WAIT_SECONDS}.000001`, `${MAX_WAIT_SECONDS - 1}.999999`, '-1', '.5', '1.', '1e0', '+1', ' 1', ''),
      fc.string({ maxLength: 5 }),
    );
    fc.assert(fc.property(wait, (value) => {
        expect(WaitQuerySchema.safeParse(value).success).toBe(inRange(value));
      }), { numRuns: 2000 });
  });

  it('refuses a value past the maximum that a double would round down to it', () => {
    const past = `${MAX_WAIT_SECONDS}.00000000000000000001`;
    expect(Number(past)).toBe(MAX_WAIT_SECONDS);
    expect(WaitQuerySchema.safeParse(past).success).toBe(false);
  });
});
