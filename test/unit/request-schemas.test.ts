import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as z from 'zod/mini';
import { IdempotencyKeySchema, TaskIdSchema } from '../../lib/http/request-params.ts';
import { WaitQuerySchema } from '../../lib/http/wait-preference.ts';
import { ExactInteger, MAX_ARG_DIGITS } from '../../lib/tasks/exact-integer.ts';
import { isTaskId } from '../../lib/tasks/task.ts';
import { MAX_WAIT_SECONDS } from '../../lib/tasks/wait-policy.ts';

/* The request schemas against their rules written as plain arithmetic: each accepts exactly what
 * its rule says, so the API document generated from them states the rules exactly. */

describe('ExactInteger', () => {
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
  /** The rule: a safe-integer JSON number, or a decimal string of 1 to MAX_ARG_DIGITS ASCII digits after an optional minus. */
  const isExact = (value: unknown) =>
    (typeof value === 'number' && Number.isSafeInteger(value)) ||
    (typeof value === 'string' && /^-?[0-9]+$/.test(value) && value.replace('-', '').length <= MAX_ARG_DIGITS);

  it('accepts exactly the exact integers, decodes them to the same bigint and encodes them canonically', () => {
    fc.assert(
      fc.property(argument, (value) => {
        const parsed = ExactInteger.safeParse(value);
        expect(parsed.success).toBe(isExact(value));
        if (parsed.success) {
          expect(parsed.data).toBe(BigInt(value as string | number));
          const canonical = Number.isSafeInteger(Number(parsed.data)) ? Number(parsed.data) : parsed.data.toString();
          expect(z.encode(ExactInteger, parsed.data)).toEqual(canonical);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('words every refusal so it says what to send instead', () => {
    fc.assert(
      fc.property(argument, (value) => {
        const parsed = ExactInteger.safeParse(value);
        if (parsed.success) return;
        expect(parsed.error.issues).toHaveLength(1);
        expect(parsed.error.issues[0]!.message).toMatch(/^(must be|is outside|has \d+ digits)/);
      }),
      { numRuns: 1000 },
    );
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
  it('accepts exactly 1 to 255 printable ASCII characters', () => {
    const isIdempotencyKey = (value: string) => value.length >= 1 && value.length <= 255 && [...value].every((char) => char >= ' ' && char <= '~');
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
