import { TaskError } from '../errors.ts';
import { digitCount, parseInteger } from './integers.ts';

/** Fewest and most arguments a task takes. */
export const MIN_ARGS = 1;
export const MAX_ARGS = 1_000;
/**
 * Most decimal digits a result may have. A product has at most as many digits as its factors
 * together, so `mul` is checked before it runs: a worker never spends seconds on a number that
 * could not be stored (DynamoDB items stop at 400 KB).
 */
export const MAX_RESULT_DIGITS = 10_000;

export interface TaskDefinition {
  readonly name: string;
  readonly summary: string;
  /** Throws a TaskError when the arguments cannot give a result within the limits. */
  check(args: readonly bigint[]): void;
  run(args: readonly bigint[]): bigint;
}

const add: TaskDefinition = {
  name: 'add',
  summary: 'the sum of the arguments',
  check: () => {},
  run: (args) => args.reduce((sum, value) => sum + value, 0n),
};

const mul: TaskDefinition = {
  name: 'mul',
  summary: 'the product of the arguments',
  check: (args) => {
    const bound = args.reduce((total, value) => total + digitCount(value), 0);
    if (bound > MAX_RESULT_DIGITS) {
      throw new TaskError(
        'result_too_large',
        `the product could have ${bound} digits; results are limited to ${MAX_RESULT_DIGITS} digits`,
      );
    }
  },
  run: (args) => args.reduce((product, value) => product * value, 1n),
};

const TASKS: ReadonlyMap<string, TaskDefinition> = new Map([add, mul].map((task) => [task.name, task]));

export const TASK_NAMES: readonly string[] = [...TASKS.keys()];

/** A task request whose name is known and whose arguments are exact integers within the limits. */
export interface PreparedTask {
  readonly definition: TaskDefinition;
  readonly args: readonly bigint[];
}

/**
 * Validates a task request: known name, 1 to 1,000 integer arguments, a result within the limits.
 * Used by the API before anything is stored and again by the worker, which trusts nothing it reads
 * from a queue.
 */
export function prepareTask(name: string, rawArgs: readonly unknown[]): PreparedTask {
  const definition = TASKS.get(name);
  if (!definition) {
    throw new TaskError('unknown_task', `unknown task ${JSON.stringify(name)}; known tasks: ${TASK_NAMES.join(', ')}`);
  }
  if (rawArgs.length < MIN_ARGS || rawArgs.length > MAX_ARGS) {
    throw new TaskError('invalid_args', `args must hold ${MIN_ARGS} to ${MAX_ARGS} integers, got ${rawArgs.length}`);
  }
  const args = rawArgs.map((value, index) => parseInteger(value, `args[${index}]`));
  definition.check(args);
  return { definition, args };
}

/** Runs a prepared task. Pure and synchronous: the limits above keep it to milliseconds. */
export function runTask(task: PreparedTask): bigint {
  return task.definition.run(task.args);
}
