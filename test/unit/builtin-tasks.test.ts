import { describe, expect, it } from 'vitest';
import { MAX_ARG_DIGITS } from '../../lib/tasks/exact-integer.ts';
import { runTask } from '../../lib/tasks/task-runner.ts';
import { MAX_INTEGERS } from '../../tasks/integers.ts';
import { MAX_PRODUCT_DIGITS } from '../../tasks/mul.ts';
import { catalog } from '../support/catalog.ts';

/* add and mul through the one contract: the catalog prepares the args (as the API and the worker
 * do), the runner runs them, and the result is in its wire form. */

/** Runs a task the way the worker does and returns the wire form of its result. */
async function compute(name: string, args: readonly unknown[]): Promise<unknown> {
  const prepared = catalog.prepare(name, args);
  if (!prepared.ok) throw new Error(prepared.refused.message);
  const outcome = await runTask(prepared.task, { taskId: 'test', attempt: 1, saveProgress: async () => true });
  if (outcome.state !== 'SUCCESS') throw new Error(`the task ended ${outcome.state}`);
  return outcome.result;
}

/** Why the catalog refused a request. */
function refusalOf(name: string, args: unknown): { code: string; message: string } {
  const prepared = catalog.prepare(name, args);
  if (prepared.ok) throw new Error('expected a refusal, but the args were accepted');
  return prepared.refused;
}

const TWO_POW_53 = 2n ** 53n;
const digits = (count: number, digit = '9') => digit.repeat(count);

describe('add', () => {
  it('sums small JSON numbers into a JSON number', async () => {
    expect(await compute('add', [1, 2, 3, 4, 5, 6])).toBe(21);
  });

  it('sums a single argument to itself', async () => {
    expect(await compute('add', [42])).toBe(42);
  });

  it('handles negative numbers and negative decimal strings', async () => {
    expect(await compute('add', [-5, '-7', 2])).toBe(-10);
  });

  it('adds exactly beyond 2^53, returning a decimal string', async () => {
    // 2^53 + 1 is the first integer a double cannot hold.
    expect(await compute('add', [String(TWO_POW_53), 1])).toBe('9007199254740993');
  });

  it('adds two huge decimal strings exactly', async () => {
    const a = '123456789012345678901234567890';
    const b = '987654321098765432109876543210';
    expect(await compute('add', [a, b])).toBe((BigInt(a) + BigInt(b)).toString());
  });

  it('returns a JSON number again when a huge sum cancels back into the safe range', async () => {
    expect(await compute('add', ['100000000000000000000000', '-99999999999999999999999'])).toBe(1);
  });

  it('returns the largest safe integer as a number and one more as a string', async () => {
    expect(await compute('add', [Number.MAX_SAFE_INTEGER])).toBe(Number.MAX_SAFE_INTEGER);
    expect(await compute('add', [Number.MAX_SAFE_INTEGER, 1])).toBe('9007199254740992');
    expect(await compute('add', [-Number.MAX_SAFE_INTEGER, -1])).toBe('-9007199254740992');
  });
});

describe('mul', () => {
  it('multiplies small numbers into a JSON number', async () => {
    expect(await compute('mul', [2, 3, 7])).toBe(42);
  });

  it('multiplies exactly beyond 2^53, returning a decimal string', async () => {
    // An odd product above 2^53: a double would round it.
    expect(await compute('mul', ['9007199254740993', 3])).toBe('27021597764222979');
  });

  it('gets the sign right for negative factors', async () => {
    expect(await compute('mul', [-2, 3])).toBe(-6);
    expect(await compute('mul', ['-2', '-3'])).toBe(6);
    expect(await compute('mul', ['-99999999999999999999', 1])).toBe('-99999999999999999999');
  });

  it('returns zero when any factor is zero, even among huge ones', async () => {
    expect(await compute('mul', [digits(1000), 0, digits(1000)])).toBe(0);
  });

  it('accepts factors whose digit bound is exactly MAX_PRODUCT_DIGITS', async () => {
    const factors = Array.from({ length: MAX_PRODUCT_DIGITS / MAX_ARG_DIGITS }, () => digits(MAX_ARG_DIGITS));
    const result = await compute('mul', factors);
    expect(typeof result).toBe('string');
    expect((result as string).length).toBeLessThanOrEqual(MAX_PRODUCT_DIGITS);
  });

  it('refuses factors whose digit bound exceeds MAX_PRODUCT_DIGITS, before anything runs, saying how to fix it', async () => {
    const factors = Array.from({ length: MAX_PRODUCT_DIGITS / MAX_ARG_DIGITS + 1 }, () => digits(MAX_ARG_DIGITS));
    expect(refusalOf('mul', factors)).toEqual({
      code: 'invalid_args',
      message: `args have 11000 digits in all; a product is limited to ${MAX_PRODUCT_DIGITS} digits, so send fewer or shorter factors`,
    });
  });

  it('counts digits without the sign when bounding the result', async () => {
    const factors = Array.from({ length: MAX_PRODUCT_DIGITS / MAX_ARG_DIGITS }, () => `-${digits(MAX_ARG_DIGITS)}`);
    expect(catalog.prepare('mul', factors).ok).toBe(true);
  });
});

describe('the limits of add and mul', () => {
  it('rejects zero arguments with invalid_args', async () => {
    expect(refusalOf('add', []).code).toBe('invalid_args');
  });

  it(`accepts exactly ${MAX_INTEGERS} arguments`, async () => {
    const args = Array.from({ length: MAX_INTEGERS }, () => 1);
    expect(await compute('add', args)).toBe(MAX_INTEGERS);
  });

  it(`rejects ${MAX_INTEGERS + 1} arguments with invalid_args`, async () => {
    const args = Array.from({ length: MAX_INTEGERS + 1 }, () => 1);
    expect(refusalOf('add', args).code).toBe('invalid_args');
  });

  it(`accepts an argument of ${MAX_ARG_DIGITS} digits, with or without a sign`, async () => {
    expect(await compute('add', [digits(MAX_ARG_DIGITS, '1')])).toBe(digits(MAX_ARG_DIGITS, '1'));
    expect(await compute('add', [`-${digits(MAX_ARG_DIGITS, '1')}`])).toBe(`-${digits(MAX_ARG_DIGITS, '1')}`);
  });

  it(`rejects an argument of ${MAX_ARG_DIGITS + 1} digits with invalid_args naming it`, async () => {
    const error = refusalOf('add', [1, 2, digits(MAX_ARG_DIGITS + 1, '1')]);
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
  ])('rejects %s with invalid_args naming the argument', async (_label, bad) => {
    const error = refusalOf('add', [1, 2, bad]);
    expect(error.code).toBe('invalid_args');
    expect(error.message).toContain('args[2]');
  });

  it('accepts leading zeros and negative zero as exact integers', async () => {
    expect(await compute('add', ['007', '-0'])).toBe(7);
  });

  it('rejects an unknown task name with unknown_task, before looking at the arguments', async () => {
    expect(refusalOf('sub', [1, 2]).code).toBe('unknown_task');
    expect(refusalOf('sub', []).code).toBe('unknown_task');
  });

  it('matches task names exactly', async () => {
    expect(refusalOf('ADD', [1]).code).toBe('unknown_task');
    expect(refusalOf('toString', [1]).code).toBe('unknown_task');
    expect(refusalOf('', [1]).code).toBe('unknown_task');
  });
});
