/** The doozer API's wire types, as a client sees them (v1). */

/** The tasks `submit` (and the `add` / `mul` commands) send: exact integers in, an exact integer out. */
export type TaskName = 'add' | 'mul';
/**
 * SCHEDULED: set to run more than 15 minutes ahead, waiting in the store; PENDING: queued (or set to
 * run within 15 minutes), until a worker ends it; RETRY: a delivery did not end it and it is queued
 * again; SUCCESS, FAILURE and CANCELLED (by its owner) are final.
 */
export type TaskState = 'SCHEDULED' | 'PENDING' | 'RETRY' | 'SUCCESS' | 'FAILURE' | 'CANCELLED';

/** Every state, in the order a task can go through them. */
export const TASK_STATES: readonly TaskState[] = ['SCHEDULED', 'PENDING', 'RETRY', 'SUCCESS', 'FAILURE', 'CANCELLED'];

/** An exact integer: a JSON number when safe, else a decimal string. */
export type WireInteger = number | string;

/** How far a running task is, as it last reported (stored at most about once a second). */
export interface TaskProgress {
  /** From 0 to 1. */
  fraction: number;
  /** Steps done and steps in all, when the task counts them. */
  done?: number;
  total?: number;
  /** A short note from the task, e.g. "3 s to go". */
  message?: string;
  /** When the task reported it (ISO 8601). */
  at: string;
}

/**
 * A task as the API shows it. `Args` and `Result` are the wire forms of the task type's schemas;
 * without a typed task list (see DoozerClient) they are `unknown`.
 */
export interface TaskView<Args = unknown, Result = unknown, Name extends string = string> {
  id: string;
  name: Name;
  args: Args;
  state: TaskState;
  /** Present once the task succeeded. */
  result?: Result;
  error?: { code: string; message: string };
  /** Present once the task reported any (long tasks such as sleep and primes do). */
  progress?: TaskProgress;
  /** When it is to run (ISO 8601), for a task submitted with `runAt` or `delaySeconds`. */
  runAt?: string;
  /** Where the API POSTs the task's view when it ends (a signed completion webhook; see verifyWebhook). */
  callbackUrl?: string;
  /** How the completion webhook's delivery went: present once a task with a `callbackUrl` has ended. */
  webhook?: WebhookDelivery;
  createdAt: string;
  updatedAt: string;
  expiresAt: string;
}

/**
 * `pending` until the receiver answers 2xx (`delivered`) or the API gives up (`failed`: refused at
 * once, or its retries spent).
 */
export type WebhookState = 'pending' | 'delivered' | 'failed';

/** The delivery of a task's completion webhook, as the API shows it. */
export interface WebhookDelivery {
  /** The Standard Webhooks message id (`webhook-id`): the same for every attempt, so a receiver can drop repeats. */
  id: string;
  state: WebhookState;
  /** Attempts made so far (0 before the first). */
  attempts: number;
  /** The HTTP status the receiver answered the last attempt with. */
  lastStatus?: number;
  /** Why the last attempt got no answer (a timeout, a refused connection, an address not allowed). */
  lastError?: string;
  /** ISO 8601 times of the last attempt and, while `pending`, of the next. */
  lastAttemptAt?: string;
  nextAttemptAt?: string;
}

/** A JSON Schema (2020-12) document, as `GET /task-types` describes args and results with. */
export type JsonSchema = { [keyword: string]: unknown };

/** One task type as `GET /task-types` lists it. */
export interface TaskType {
  name: string;
  description: string;
  /** Seconds a run may take; past it the task ends FAILURE `timeout`. */
  timeoutSeconds: number;
  /** Further attempts after a run fails unexpectedly. */
  retries: number;
  /** JSON Schema of the args on the wire. */
  args: JsonSchema;
  /** JSON Schema of the result on the wire; absent when the task declares none (any JSON). */
  result?: JsonSchema;
}

export interface TokenResponse {
  token: string;
  tokenType: 'Bearer';
  expiresIn: number;
}

export interface ApiErrorBody {
  /** `state`: what the task ended as, on the 409 `task_ended` of a cancel. */
  error: { code: string; message: string; state?: TaskState };
}

/** One page of `GET /tasks`, newest first. */
export interface TaskPage<View extends TaskView = TaskView> {
  tasks: View[];
  /** Give it as `cursor` for the following page; null on the last page. */
  next: string | null;
}

/**
 * Why one item of a batch was not accepted: `invalid_request` (its fields or args), `unknown_task`,
 * or `unavailable` (it could not be recorded or queued: submit it again).
 */
export interface BatchItemError {
  code: 'invalid_request' | 'unknown_task' | 'unavailable';
  message: string;
}

/** One item's outcome in a batch, in the items' order: its task, or why it was not accepted. */
export type BatchItemResult<View extends TaskView = TaskView> =
  | { task: View; error?: undefined }
  | { error: BatchItemError; task?: undefined };

/** The answer of `POST /tasks/batch`. */
export interface BatchResponse<View extends TaskView = TaskView> {
  results: BatchItemResult<View>[];
}

/** A task ends in one of these and never changes again. */
export const TERMINAL_STATES: readonly TaskState[] = ['SUCCESS', 'FAILURE', 'CANCELLED'];

export function isTerminal(task: Pick<TaskView, 'state'>): boolean {
  return TERMINAL_STATES.includes(task.state);
}

// Typed task lists. The client never depends on zod or on the server's code: a task definition is
// described by the shape it has (`defineTask` in lib/tasks/define-task.ts gives it), and a schema by
// the `_zod.input` type that every zod schema carries, which is its wire form: `z.input<S>`.

/** A schema, as far as the client cares: the type of what goes over the wire. */
export interface WireSchema<Input = unknown> {
  readonly _zod: { readonly input: Input };
}

/** A task definition, structurally: its literal name, its args schema, and its result schema if any. */
export interface TaskShape {
  readonly name: string;
  readonly args: WireSchema;
  readonly result?: WireSchema | undefined;
}

/** A list of task definitions, such as `typeof TASKS` of tasks/index.ts. */
export type TaskList = readonly TaskShape[];

/** The list of a client that was given none: any name, any args, any result. */
export type AnyTaskList = readonly { readonly name: string; readonly args: WireSchema<unknown>; readonly result?: WireSchema<unknown> }[];

/** The task names of a list (`string` for an untyped client). */
export type TaskNameOf<T extends TaskList> = T[number]['name'];

/** The definition of task `N` in `T`; any task when `T` does not know its names. */
type TaskOf<T extends TaskList, N extends string> = string extends TaskNameOf<T> ? T[number] : Extract<T[number], { readonly name: N }>;

/** The args of task `N` as sent: the input side of its args schema. */
export type TaskArgs<T extends TaskList, N extends TaskNameOf<T>> = TaskOf<T, N>['args']['_zod']['input'];

/** The result of task `N` on the wire: the input side of its result schema, `unknown` without one. */
export type TaskResult<T extends TaskList, N extends TaskNameOf<T>> =
  TaskOf<T, N> extends { readonly result?: infer S } ? (NonNullable<S> extends WireSchema<infer R> ? R : unknown) : unknown;

/**
 * The view of a task named one of `N`: a union discriminated by `name`, so checking `task.name`
 * narrows `args` and `result`. Plain TaskView for an untyped client.
 */
export type TaskViewOf<T extends TaskList, N extends TaskNameOf<T> = TaskNameOf<T>> = string extends TaskNameOf<T>
  ? TaskView
  : { [K in N]: TaskView<TaskArgs<T, K>, TaskResult<T, K>, K> }[N];
