import { MAX_ARG_DIGITS } from '../../lib/tasks/exact-integer.ts';
import { isTaskId } from '../../lib/tasks/task.ts';
import { MAX_INTEGERS } from '../../tasks/integers.ts';
import type { WireInteger } from './types.ts';

/** Input the CLI refuses before sending anything; reported as a usage error. */
export class InputError extends Error {
  override readonly name = 'InputError';
}

const INTEGER = /^-?\d+$/;

/**
 * Reads the integers of `add` / `mul` from `--i` lists ("1,2,3") and positional arguments, checking
 * each the way the API will, so a typo fails here with a message instead of in a request. Safe
 * integers go as JSON numbers, larger ones as decimal strings.
 */
export function parseIntegers(command: string, lists: readonly string[], positional: readonly string[]): WireInteger[] {
  const values: WireInteger[] = [];
  const sources = [...lists.map((list) => ({ label: `--i ${JSON.stringify(list)}`, list })), ...positional.map((list) => ({ label: `argument ${JSON.stringify(list)}`, list }))];
  for (const { label, list } of sources) {
    list.split(',').forEach((raw, index, parts) => {
      const value = raw.trim();
      const where = parts.length > 1 ? `${label}: value ${index + 1}` : label;
      if (value === '') throw new InputError(`${where} is empty; separate integers with single commas, e.g. --i 1,2,3`);
      if (!INTEGER.test(value)) {
        throw new InputError(`${where}: ${JSON.stringify(value)} is not an integer; use whole numbers such as 42 or -7`);
      }
      const digits = value.replace('-', '').length;
      if (digits > MAX_ARG_DIGITS) throw new InputError(`${where} has ${digits} digits; at most ${MAX_ARG_DIGITS} are allowed`);
      const asNumber = Number(value);
      values.push(Number.isSafeInteger(asNumber) ? asNumber : BigInt(value).toString());
    });
  }
  if (values.length === 0) throw new InputError(`give the integers to ${command}, e.g. doozer ${command} --i 1,2,3`);
  if (values.length > MAX_INTEGERS) throw new InputError(`${values.length} integers given; at most ${MAX_INTEGERS} are allowed`);
  return values;
}

/** A task id as the API issues them; anything else is a usage error. */
export function parseTaskId(value: string | undefined): string {
  if (!value) throw new InputError('give the task id, e.g. doozer lookup --uuid=task_1db8fd1f-aff0-4db6-9c9a-ada3d20cb006');
  if (!isTaskId(value)) throw new InputError(`${JSON.stringify(value)} is not a task id; task ids look like task_<uuid>`);
  return value;
}

/**
 * The args of `doozer run`: one JSON value (`'{"ms":3000}'`, `'[1,2,3]'`), or `--arg key=value`
 * pairs that build an object, each value read as JSON when it is JSON (`ms=3000` gives a number,
 * `flag=true` a boolean) and as a string otherwise (`name=bob`). Neither gives `undefined`: the
 * request then has no args, and the API says what the task needs.
 */
export function parseRunArgs(task: string, json: string | undefined, pairs: readonly string[]): unknown {
  if (json !== undefined && pairs.length > 0) {
    throw new InputError(`give the args of ${task} either as one JSON argument or as --arg key=value, not both`);
  }
  if (json !== undefined) {
    try {
      return JSON.parse(json);
    } catch (error) {
      throw new InputError(
        // V8 repeats the whole input in some messages ('Unexpected token 'a', "abc" is not valid JSON').
        `the args ${JSON.stringify(shorten(json))} are not valid JSON (${(error as Error).message.replace(/, ".*" is not valid JSON$/s, '')}); ` +
          `quote them for the shell, e.g. doozer run sleep '{"ms":3000}', or use --arg key=value`,
      );
    }
  }
  if (pairs.length === 0) return undefined;
  const entries = new Map<string, unknown>();
  for (const pair of pairs) {
    const equals = pair.indexOf('=');
    if (equals <= 0) throw new InputError(`--arg ${JSON.stringify(shorten(pair))} is not key=value; give one like --arg ms=3000`);
    const key = pair.slice(0, equals);
    if (entries.has(key)) throw new InputError(`--arg ${key} is given twice; give each key once`);
    entries.set(key, readValue(pair.slice(equals + 1)));
  }
  // fromEntries defines own properties: a key such as __proto__ stays a plain key.
  return Object.fromEntries(entries);
}

/** A --arg value: JSON when it parses (3000, true, null, "x", [1,2], {"a":1}), else the text itself. */
function readValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function shorten(text: string): string {
  return text.length > 60 ? `${text.slice(0, 60)}…` : text;
}
