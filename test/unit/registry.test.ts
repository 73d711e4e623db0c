import { describe, expect, it } from 'vitest';
import { TaskError } from '../../lib/errors.ts';
import { MAX_ARG_DIGITS, toJsonInteger } from '../../lib/tasks/integers.ts';
import { MAX_ARGS, MAX_RESULT_DIGITS, prepareTask, runTask } from '../../lib/tasks/registry.ts';

/** Runs a task the way the worker does and returns the wire form of its result. */
function compute(name: string, args: readonly unknown[]): number | string {
  return toJsonInteger(runTask(prepareTask(name, args)));
}

/** The TaskError thrown by `run`, so tests can assert on its code. */
function taskErrorOf(run: () => unknown): TaskError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(TaskError);
    return error as TaskError;
  }
  throw new Error('expected a TaskError, but nothing was thrown');
}

const TWO_POW_53 = 2n ** 53n;
const digits = (count: number, digit = '9') => digit.repeat(count);

describe('add', () => {
  it('sums small JSON numbers into a JSON number', () => {
    expect(compute('add', [1, 2, 3, 4, 5, 6])).toBe(21);
  });

  it('sums a single argument to itself', () => {
    expect(compute('add', [42])).toBe(42);
  });

  it('handles negative numbers and negative decimal strings', () => {
    expect(compute('add', [-5, '-7', 2])).toBe(-10);
  });

  it('adds exactly beyond 2^53, returning a decimal string', () => {
    // 2^53 + 1 is the first integer a double cannot hold.
    expect(compute('add', [String(TWO_POW_53), 1])).toBe('9007199254740993');
  });

  it('adds two huge decimal strings exactly', () => {
    const a = '123456789012345678901234567890';
    const b = '987654321098765432109876543210';
    expect(compute('add', [a, b])).toBe((BigInt(a) + BigInt(b)).toString());
  });

  it('returns a JSON number again when a huge sum cancels back into the safe range', () => {
    expect(compute('add', ['100000000000000000000000', '-99999999999999999999999'])).toBe(1);
  });

  it('returns the largest safe integer as a number and one more as a string', () => {
    expect(compute('add', [Number.MAX_SAFE_INTEGER])).toBe(Number.MAX_SAFE_INTEGER);
    expect(compute('add', [Number.MAX_SAFE_INTEGER, 1])).toBe('9007199254740992');
    expect(compute('add', [-Number.MAX_SAFE_INTEGER, -1])).toBe('-9007199254740992');
  });
});

describe('mul', () => {
  it('multiplies small numbers into a JSON number', () => {
    expect(compute('mul', [2, 3, 7])).toBe(42);
  });

  it('multiplies exactly beyond 2^53, returning a decimal string', () => {
    // An odd product above 2^53: a double would round it.
    expect(compute('mul', ['9007199254740993', 3])).toBe('27021597764222979');
  });

  it('gets the sign right for negative factors', () => {
    expect(compute('mul', [-2, 3])).toBe(-6);
    expect(compute('mul', ['-2', '-3'])).toBe(6);
    expect(compute('mul', ['-99999999999999999999', 1])).toBe('-99999999999999999999');
  });

  it('returns zero when any factor is zero, even among huge ones', () => {
    expect(compute('mul', [digits(1000), 0, digits(1000)])).toBe(0);
  });

  it('accepts factors whose digit bound is exactly MAX_RESULT_DIGITS', () => {
    const factors = Array.from({ length: MAX_RESULT_DIGITS / MAX_ARG_DIGITS }, () => digits(MAX_ARG_DIGITS));
    const result = compute('mul', factors);
    expect(typeof result).toBe('string');
    expect((result as string).length).toBeLessThanOrEqual(MAX_RESULT_DIGITS);
  });

  it('rejects with result_too_large when the digit bound exceeds MAX_RESULT_DIGITS', () => {
    const factors = Array.from({ length: MAX_RESULT_DIGITS / MAX_ARG_DIGITS + 1 }, () => digits(MAX_ARG_DIGITS));
    expect(taskErrorOf(() => prepareTask('mul', factors)).code).toBe('result_too_large');
  });

  it('counts digits without the sign when bounding the result', () => {
    const factors = Array.from({ length: MAX_RESULT_DIGITS / MAX_ARG_DIGITS }, () => `-${digits(MAX_ARG_DIGITS)}`);
    expect(() => prepareTask('mul', factors)).not.toThrow();
  });
});

describe('toJsonInteger', () => {
  it('keeps safe integers as JSON numbers', () => {
    expect(toJsonInteger(0n)).toBe(0);
    expect(toJsonInteger(-1n)).toBe(-1);
    expect(toJsonInteger(BigInt(Number.MAX_SAFE_INTEGER))).toBe(Number.MAX_SAFE_INTEGER);
    expect(toJsonInteger(BigInt(Number.MIN_SAFE_INTEGER))).toBe(Number.MIN_SAFE_INTEGER);
  });

  it('turns integers outside the safe range into decimal strings', () => {
    expect(toJsonInteger(TWO_POW_53)).toBe('9007199254740992');
    expect(toJsonInteger(-TWO_POW_53)).toBe('-9007199254740992');
    expect(toJsonInteger(10n ** 400n)).toBe(`1${'0'.repeat(400)}`);
  });
});

describe('prepareTask limits', () => {
  it('rejects zero arguments with invalid_args', () => {
    expect(taskErrorOf(() => prepareTask('add', [])).code).toBe('invalid_args');
  });

  it(`accepts exactly ${MAX_ARGS} arguments`, () => {
    const args = Array.from({ length: MAX_ARGS }, () => 1);
    expect(compute('add', args)).toBe(MAX_ARGS);
  });

  it(`rejects ${MAX_ARGS + 1} arguments with invalid_args`, () => {
    const args = Array.from({ length: MAX_ARGS + 1 }, () => 1);
    expect(taskErrorOf(() => prepareTask('add', args)).code).toBe('invalid_args');
  });

  it(`accepts an argument of ${MAX_ARG_DIGITS} digits, with or without a sign`, () => {
    expect(compute('add', [digits(MAX_ARG_DIGITS, '1')])).toBe(digits(MAX_ARG_DIGITS, '1'));
    expect(compute('add', [`-${digits(MAX_ARG_DIGITS, '1')}`])).toBe(`-${digits(MAX_ARG_DIGITS, '1')}`);
  });

  it(`rejects an argument of ${MAX_ARG_DIGITS + 1} digits with invalid_args naming it`, () => {
    const error = taskErrorOf(() => prepareTask('add', [1, 2, digits(MAX_ARG_DIGITS + 1, '1')]));
    expect(error.code).toBe('invalid_args');
    expect(error.message).toContain('args[2]');
  });

  it.each<[string, unknown]>([
    ['a float', 1.5],
    ['a number above the safe range', 2 ** 53],
    ['a number below the safe range', -(2 ** 53)],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['a non-numeric string', 'abc'],
    ['a decimal-point string', '1.5'],
    ['an exponent string', '1e3'],
    ['a plus-signed string', '+1'],
    ['a hex string', '0x10'],
    ['an empty string', ''],
    ['a lone minus sign', '-'],
    ['a string with a leading space', ' 1'],
    ['a string with a trailing newline', '1\n'],
    ['non-ASCII digits', '١٢'],
    ['null', null],
    ['undefined', undefined],
    ['a boolean', true],
    ['an object', { value: 1 }],
    ['an array', [1]],
    ['a bigint-looking object', { toString: () => '1' }],
  ])('rejects %s with invalid_args naming the argument', (_label, bad) => {
    const error = taskErrorOf(() => prepareTask('add', [1, 2, bad]));
    expect(error.code).toBe('invalid_args');
    expect(error.message).toContain('args[2]');
  });

  it('accepts leading zeros and negative zero as exact integers', () => {
    expect(compute('add', ['007', '-0'])).toBe(7);
  });

  it('rejects an unknown task name with unknown_task, before looking at the arguments', () => {
    expect(taskErrorOf(() => prepareTask('sub', [1, 2])).code).toBe('unknown_task');
    expect(taskErrorOf(() => prepareTask('sub', [])).code).toBe('unknown_task');
  });

  it('matches task names exactly', () => {
    expect(taskErrorOf(() => prepareTask('ADD', [1])).code).toBe('unknown_task');
    expect(taskErrorOf(() => prepareTask('toString', [1])).code).toBe('unknown_task');
    expect(taskErrorOf(() => prepareTask('', [1])).code).toBe('unknown_task');
  });
});
