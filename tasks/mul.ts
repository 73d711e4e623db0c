import * as z from 'zod/mini';
import { defineTask } from '../lib/tasks/define-task.ts';
import { digitCount, exactInteger } from '../lib/tasks/exact-integer.ts';
import { IntegerList } from './integers.ts';

/**
 * Most decimal digits a product may have. A product has at most as many digits as its factors
 * together, so the bound is checked with the arguments, before anything runs: no worker spends
 * seconds on a number that could not be stored (a DynamoDB item stops at 400 KB).
 */
export const MAX_PRODUCT_DIGITS = 10_000;

export const mul = defineTask({
  name: 'mul',
  description:
    `The exact product of 1 to 1,000 integers of up to 1,000 digits each; the factors may have at most ` +
    `${MAX_PRODUCT_DIGITS} digits in all, the most a product of them can have.`,
  args: IntegerList.check(
    z.superRefine((factors, ctx) => {
      const bound = factors.reduce((total, value) => total + digitCount(value), 0);
      if (bound > MAX_PRODUCT_DIGITS) {
        ctx.addIssue({
          code: 'custom',
          input: factors,
          message: `have ${bound} digits in all; a product is limited to ${MAX_PRODUCT_DIGITS} digits, so send fewer or shorter factors`,
        });
      }
    }),
  ),
  result: exactInteger(MAX_PRODUCT_DIGITS),
  timeoutSeconds: 10,
  pure: true,
  run: (factors) => factors.reduce((product, value) => product * value, 1n),
});
