import type * as z from 'zod/mini';

/**
 * The extension point of doozer: a task is one `defineTask` call in its own file under tasks/, and
 * one line in tasks/index.ts. Its schemas are the contract from the HTTP edge to the worker: the API
 * validates requests with `args`, the API document and `GET /task-types` describe it from them, and
 * the worker validates the queued input with it again before `run` sees it.
 *
 * Schemas describe two sides. Their input is the wire form (what clients send, what the API shows);
 * their output is what `run` receives and returns. For plain schemas the two are the same; a codec
 * (`z.codec`) can map between them, as add and mul do for exact integers (JSON number or decimal
 * string on the wire, `bigint` in `run`).
 */
export interface TaskDefinition<Args extends z.ZodMiniType = z.ZodMiniType, Result extends z.ZodMiniType = z.ZodMiniType> {
  /** Lower-case letters, digits and dashes, starting with a letter: the `name` of `POST /tasks`. */
  readonly name: string;
  /** One or two sentences for `GET /task-types`, the API document and `doozer tasks`. */
  readonly description: string;
  readonly args: Args;
  /** Checks and encodes what `run` returns; without it the result must be plain JSON. */
  readonly result?: Result;
  /**
   * Seconds `run` may take, 1 to MAX_TIMEOUT_SECONDS. Past it the task ends FAILURE `timeout`, and
   * `ctx.signal` fires. The worker's Lambda timeout and the queue's settings follow from the longest.
   */
  readonly timeoutSeconds: number;
  /**
   * Further attempts after `run` throws an error that is not a TaskError (0 to MAX_RETRIES), each
   * after a growing pause. A TaskError, a timeout or invalid arguments end the task at once.
   */
  readonly retries: number;
  /**
   * True when `run` does nothing but compute its result (no calls out, no writes anywhere). A queue
   * message is input, not truth: before running a task that is not pure, the worker marks it started
   * with a write conditioned on its record holding the message's args, so a forged message never
   * makes it act. A pure task skips that write (one DynamoDB write per task): a forged message can
   * make it compute, never keep what it computed.
   */
  readonly pure: boolean;
  run(args: z.output<Args>, ctx: TaskContext): Promise<z.output<Result>> | z.output<Result>;
}

/** What `run` gets besides its arguments. */
export interface TaskContext {
  readonly taskId: string;
  /** 1 on the first attempt, more when a worker tries again (after a throw, or a lost worker). */
  readonly attempt: number;
  /**
   * Fires when the task must stop: its time limit passed, or its record no longer lets it end (it
   * ended elsewhere). A long `run` should pass it on (fetch, timers) or check it between steps.
   */
  readonly signal: AbortSignal;
  /**
   * Reports how far the task is: a fraction from 0 to 1, or `{ done, total }`, and an optional short
   * message. Cheap to call often: it is stored at most about once a second, and shown as `progress`
   * by `GET /tasks/{id}`.
   */
  progress(value: number | { readonly done: number; readonly total: number }, message?: string): void;
}

/** A task of any schemas, as the catalog and the worker hold it. */
// `any`: each task's `run` was checked against its own schema where it was defined.
export type AnyTaskDefinition = TaskDefinition<z.ZodMiniType, z.ZodMiniType> & { run(args: any, ctx: TaskContext): unknown };

export const TASK_NAME_PATTERN = /^[a-z][a-z0-9-]{0,62}$/;
/** The longest time limit: the worker Lambda's 900 s maximum, less a margin to record the end. */
export const MAX_TIMEOUT_SECONDS = 840;
export const MAX_RETRIES = 5;

type Spec<Args extends z.ZodMiniType, Result extends z.ZodMiniType> = Omit<TaskDefinition<Args, Result>, 'timeoutSeconds' | 'retries' | 'pure'> & {
  /** Default 30. */
  readonly timeoutSeconds?: number;
  /** Default 0. */
  readonly retries?: number;
  /** Default false: the worker marks the task started, from its record, before running it. */
  readonly pure?: boolean;
};

/**
 * Defines a task, typed end to end: `run` receives the output type of `args`. The definition is
 * checked here, so a bad name or limit fails when the module loads, not when a request arrives.
 */
export function defineTask<
  const Name extends string,
  Args extends z.ZodMiniType,
  Result extends z.ZodMiniType = z.ZodMiniType<unknown>,
>(spec: Spec<Args, Result> & { readonly name: Name }): TaskDefinition<Args, Result> & { readonly name: Name } {
  const definition = { ...spec, timeoutSeconds: spec.timeoutSeconds ?? 30, retries: spec.retries ?? 0, pure: spec.pure ?? false };
  if (!TASK_NAME_PATTERN.test(definition.name)) {
    throw new TypeError(`task name ${JSON.stringify(definition.name)} must be lower-case letters, digits and dashes, starting with a letter`);
  }
  if (!Number.isInteger(definition.timeoutSeconds) || definition.timeoutSeconds < 1 || definition.timeoutSeconds > MAX_TIMEOUT_SECONDS) {
    throw new RangeError(`task ${definition.name}: timeoutSeconds must be an integer from 1 to ${MAX_TIMEOUT_SECONDS}`);
  }
  if (!Number.isInteger(definition.retries) || definition.retries < 0 || definition.retries > MAX_RETRIES) {
    throw new RangeError(`task ${definition.name}: retries must be an integer from 0 to ${MAX_RETRIES}`);
  }
  if (!definition.description.trim()) throw new TypeError(`task ${definition.name}: give it a description`);
  return Object.freeze(definition);
}

export { TaskError } from '../errors.ts';
