import * as z from 'zod/mini';
import { ExactInteger } from '../lib/tasks/exact-integer.ts';

/** Fewest and most integers add and mul take. */
export const MIN_INTEGERS = 1;
export const MAX_INTEGERS = 1_000;

const countMessage = (issue: { input?: unknown }) =>
  `must hold ${MIN_INTEGERS} to ${MAX_INTEGERS} integers, got ${(issue.input as unknown[]).length}`;

/** The args of add and mul: 1 to 1,000 exact integers (JSON numbers or decimal strings). */
export const IntegerList = z
  .array(ExactInteger, { error: (issue) => (issue.input === undefined ? 'is required' : 'must be an array of integers') })
  .check(z.minLength(MIN_INTEGERS, { error: countMessage }), z.maxLength(MAX_INTEGERS, { error: countMessage }));
