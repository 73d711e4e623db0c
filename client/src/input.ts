import { MAX_ARG_DIGITS } from '../../lib/tasks/integers.ts';
import { isTaskId } from '../../lib/tasks/task.ts';
import { MAX_ARGS } from '../../lib/tasks/registry.ts';
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
  if (values.length > MAX_ARGS) throw new InputError(`${values.length} integers given; at most ${MAX_ARGS} are allowed`);
  return values;
}

/** A task id as the API issues them; anything else is a usage error. */
export function parseTaskId(value: string | undefined): string {
  if (!value) throw new InputError('give the task id, e.g. doozer lookup --uuid=task_1db8fd1f-aff0-4db6-9c9a-ada3d20cb006');
  if (!isTaskId(value)) throw new InputError(`${JSON.stringify(value)} is not a task id; task ids look like task_<uuid>`);
  return value;
}
