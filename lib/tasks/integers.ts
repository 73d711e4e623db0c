import { TaskError } from '../errors.ts';

/** Most decimal digits one argument may have (sign not counted). Documented in the README. */
export const MAX_ARG_DIGITS = 1_000;

const DECIMAL = /^-?\d+$/;

/**
 * Reads one task argument as an exact integer. JSON numbers are accepted only inside the
 * safe-integer range: beyond it `JSON.parse` has already rounded them, so accepting one would
 * compute with a number the caller did not send. Larger values travel as decimal strings.
 */
export function parseInteger(value: unknown, label: string): bigint {
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) {
      throw new TaskError('invalid_args', `${label} must be an integer, got ${value}`);
    }
    if (!Number.isSafeInteger(value)) {
      throw new TaskError(
        'invalid_args',
        `${label} is outside the safe-integer range of JSON numbers (±${Number.MAX_SAFE_INTEGER}); send it as a decimal string`,
      );
    }
    return BigInt(value);
  }
  if (typeof value === 'string') {
    if (!DECIMAL.test(value)) {
      throw new TaskError('invalid_args', `${label} must be a decimal integer string, got ${quote(value)}`);
    }
    const digits = value.startsWith('-') ? value.length - 1 : value.length;
    if (digits > MAX_ARG_DIGITS) {
      throw new TaskError('invalid_args', `${label} has ${digits} digits; at most ${MAX_ARG_DIGITS} are allowed`);
    }
    return BigInt(value);
  }
  throw new TaskError(
    'invalid_args',
    `${label} must be an integer (a JSON number or a decimal string), got ${describeType(value)}`,
  );
}

/** The wire form of an exact integer: a JSON number when that is exact, else a decimal string. */
export function toJsonInteger(value: bigint): number | string {
  const asNumber = Number(value);
  return Number.isSafeInteger(asNumber) ? asNumber : value.toString();
}

/** Decimal digits of `value`, sign not counted. */
export function digitCount(value: bigint): number {
  return (value < 0n ? -value : value).toString().length;
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : typeof value;
}

function quote(value: string): string {
  return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
}
