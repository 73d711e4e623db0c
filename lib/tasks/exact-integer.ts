import * as z from 'zod/mini';

/** Most decimal digits one integer argument may have (sign not counted). */
export const MAX_ARG_DIGITS = 1_000;

/** The wire form of an exact integer: a JSON number when that is exact, else a decimal string. */
export function toJsonInteger(value: bigint): number | string {
  const asNumber = Number(value);
  return Number.isSafeInteger(asNumber) ? asNumber : value.toString();
}

/** Decimal digits of `value`, sign not counted. */
export function digitCount(value: bigint): number {
  return (value < 0n ? -value : value).toString().length;
}

/**
 * Why `value` is not an exact integer, in words that say how to fix it. Only called once the schema
 * below has refused the value: the schema is the rule, this is its explanation.
 */
function integerFault(value: unknown, maxDigits: number): string {
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) return `must be an integer, got ${value}`;
    return `is outside the safe-integer range of JSON numbers (±${Number.MAX_SAFE_INTEGER}); send it as a decimal string`;
  }
  if (typeof value === 'string') {
    const digits = value.replace(/^-/, '');
    if (/^\d+$/.test(digits)) return `has ${digits.length} digits; at most ${maxDigits} are allowed`;
    return `must be a decimal integer string, got ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  }
  const type = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value === 'object' ? 'an object' : typeof value;
  return `must be an integer (a JSON number or a decimal string), got ${type}`;
}

/**
 * An exact integer of up to `maxDigits` digits, as a codec: on the wire a JSON number within the
 * safe-integer range (beyond it JSON.parse has already rounded it) or a decimal string; in `run` a
 * bigint. Encoding gives the canonical wire form, so `"01"` and `1` are the same input.
 */
export function exactInteger(maxDigits: number) {
  const fault = { error: (issue: { input?: unknown }) => integerFault(issue.input, maxDigits) };
  const decimal = new RegExp(`^-?\\d{1,${maxDigits}}$`);
  return z
    .codec(z.union([z.int(fault), z.string(fault).check(z.regex(decimal, fault))], fault), z.bigint(), {
      decode: (value) => BigInt(value),
      encode: toJsonInteger,
    })
    .check(
      z.meta({
        description:
          `An exact integer: a JSON number within ±${Number.MAX_SAFE_INTEGER} (beyond that JSON has already rounded it), ` +
          `or a decimal string of up to ${maxDigits} digits with an optional minus sign. ` +
          'JSON cannot tell `1.0` or `1E2` from `1` and `100`, so those count as the integers they equal; `1.5` is refused.',
        examples: [42, '-123456789012345678901234567890'],
      }),
    );
}

/** An integer argument: up to MAX_ARG_DIGITS digits. */
export const ExactInteger = exactInteger(MAX_ARG_DIGITS);
