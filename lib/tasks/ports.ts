import type { UnavailableError } from '../errors.ts';
import type { IdempotencyClaim } from './idempotency.ts';
import type { Json, Task, TaskFailure, TaskInput, TaskProgress, TaskState } from './task.ts';
import type { TaskMessage } from './task-message.ts';

/**
 * Where tasks live. One implementation talks to DynamoDB (lib/aws/dynamodb-task-store.ts); it turns
 * AWS errors into domain errors (UnavailableError) and does nothing else.
 */
export interface TaskStore {
  /**
   * Records a new task. A SCHEDULED one is listed by `listDue` (and not by `listOpen`) until it
   * is moved to PENDING; every task is listed for its owner by `listByOwner`.
   */
  create(task: Task): Promise<void>;
  /**
   * Records new tasks in bulk (DynamoDB BatchWriteItem, its unprocessed items retried). Resolves
   * with the ids it could not record, each with why: a write that failed outright may still have been applied, so
   * the caller treats those as unknown, not as absent. Never rejects for a failed write. Each task
   * must be new: a bulk write takes no condition, so unlike `create` it would overwrite an item of
   * the same id (ids are random UUIDs).
   */
  createMany(tasks: readonly Task[]): Promise<ReadonlyMap<string, UnavailableError>>;
  /** A strongly consistent read; `undefined` when no such item exists (expiry is the caller's call). */
  get(id: string): Promise<Task | undefined>;
  /**
   * Moves a task to `to` only if it is currently in one of `from`: the conditional write that keeps a
   * terminal state from ever being overwritten. Returns the updated task, or `undefined` when the
   * task is missing or in another state. It keeps the indexes in step: a task that ends leaves
   * `listOpen` and `listDue`; a SCHEDULED task moved to PENDING leaves `listDue` for `listOpen`.
   */
  transition(id: string, change: StateChange): Promise<Task | undefined>;
  /**
   * Stores a running task's progress, only while it is open and holds `input` (the same conditions
   * as a worker's transition). False when the record refused it: the task ended, or is not this input.
   */
  saveProgress(id: string, progress: TaskProgress, input: TaskInput): Promise<boolean>;
  /**
   * Records when a worker started the task (`startedAt`), under the same conditions; false when the
   * record refused it. The worker's check that a message's input is the recorded one, before a task
   * that is not pure runs.
   */
  markStarted(id: string, at: string, input: TaskInput): Promise<boolean>;
  /**
   * Ids of tasks that are not yet SUCCESS or FAILURE and were created at or before `createdBefore`
   * (ISO time), at most `limit`: the candidates of the sweeper. May lag a write by a moment (an index).
   */
  listOpen(createdBefore: string, limit: number): Promise<string[]>;
  /**
   * Ids of SCHEDULED tasks whose `runAt` is at or before `dueBy` (ISO time), soonest first, at most
   * `limit`: the scheduler's candidates. May lag a write by a moment (an index).
   */
  listDue(dueBy: string, limit: number): Promise<string[]>;
  /**
   * One page of an owner's tasks, newest first (by createdAt, then id), from an index keyed by owner
   * and creation time. Skips expired tasks and, when set, those not in `state` or not named `name`.
   * `next` is where the following page starts, present when more tasks may follow. May lag a write
   * by a moment (an index).
   */
  listByOwner(query: OwnerTaskQuery): Promise<TaskPage>;
  /**
   * Counts one more requeue of an open task, only if it has been requeued `previous` times so far,
   * so two sweepers never both requeue it. False when the condition failed.
   */
  recordRequeue(id: string, previous: number, at: string): Promise<boolean>;
}

/** A place in an owner's list of tasks: the last task a page showed. */
export interface ListPosition {
  readonly createdAt: string;
  readonly id: string;
}

export interface OwnerTaskQuery {
  readonly owner: string;
  readonly state?: TaskState;
  readonly name?: string;
  /** 1 to 100. */
  readonly limit: number;
  /** Start after this task (the `next` of the page before). */
  readonly after?: ListPosition;
  /** Tasks that expired by then are left out (DynamoDB's TTL deletes them late). */
  readonly nowMs: number;
}

export interface TaskPage {
  readonly tasks: readonly Task[];
  /** Present when more tasks may follow. A page cut short by the read budget of a filter may hold fewer than `limit`. */
  readonly next?: ListPosition;
}

export interface StateChange {
  readonly from: readonly TaskState[];
  readonly to: TaskState;
  readonly at: string;
  readonly result?: Json;
  readonly error?: TaskFailure;
  /** Replaces the stored progress (a task that ends SUCCESS shows it complete). */
  readonly progress?: TaskProgress;
  /** Only if no worker has started the task (no `startedAt`, no progress). */
  readonly unlessStarted?: boolean;
  /**
   * Records that the task was queued at this time (the scheduler queueing a SCHEDULED task): the
   * sweeper counts a task's staleness from it, as from a requeue.
   */
  readonly requeuedAt?: string;
  /**
   * When the task's completion webhook, if it has one, is sent again unless a notifier has taken it
   * up by then (the webhook index's `notifyAt`): set by every end that is to be told. Written with
   * the end itself, so a notifier message lost after the write still leaves the delivery found.
   */
  readonly notifyAt?: string;
  /**
   * Only if the task's record holds exactly this input. A worker's writes carry the input its queue
   * message claims: a message is input, not truth, and one that disagrees with the record (a forged
   * or corrupted message naming a real task) changes nothing.
   */
  readonly input?: TaskInput;
}

/**
 * The hold a worker has on the queue message it is running: extending it keeps the message hidden
 * from other workers (SQS ChangeMessageVisibility), for a task that runs longer than the queue's
 * visibility timeout, or sets when a task that will be retried comes back.
 */
export interface MessageLease {
  /** Hides the message for `seconds` from now. */
  extend(seconds: number): Promise<void>;
}

/** A message, and how long the queue keeps it from every worker (SQS DelaySeconds, 0 to 900). */
export interface QueuedMessage {
  readonly message: TaskMessage;
  readonly delaySeconds?: number;
}

/** The longest delay the queue itself can give a message (SQS: 15 minutes). */
export const MAX_QUEUE_DELAY_SECONDS = 900;

/** Hands tasks to workers. One implementation talks to SQS (lib/aws/sqs-task-queue.ts). */
export interface TaskQueue {
  send(message: TaskMessage, options?: { readonly delaySeconds?: number }): Promise<void>;
  /**
   * Sends many (SQS SendMessageBatch, its failed entries retried). Resolves with the task ids of the
   * messages it could not send, each with why; a send that failed outright may still have been delivered. Never
   * rejects for a failed send.
   */
  sendMany(messages: readonly QueuedMessage[]): Promise<ReadonlyMap<string, UnavailableError>>;
}

/**
 * Idempotency-key claims. One implementation talks to DynamoDB (lib/aws/dynamodb-idempotency-store.ts);
 * it turns a failed condition into a result and any other AWS error into UnavailableError.
 */
export interface IdempotencyStore {
  /**
   * Writes `claim` only if its id is free: no claim, an expired one (as of `nowMs`), or the one for
   * task `replacing` (an abandoned claim being taken over). `'taken'` when another claim holds it.
   */
  claim(claim: IdempotencyClaim, options: { readonly nowMs: number; readonly replacing?: string }): Promise<'claimed' | 'taken'>;
  /** A strongly consistent read; `undefined` when no such claim exists (expiry is the caller's call). */
  get(id: string): Promise<IdempotencyClaim | undefined>;
  /** Deletes the claim only while it still stands for `taskId`; false when it no longer does. */
  release(id: string, taskId: string): Promise<boolean>;
  /**
   * Records, on a batch's claim that still stands for `taskId`, which items were not accepted
   * (IdempotencyClaim.settled); false when the claim no longer stands for it.
   */
  settle(id: string, taskId: string, notAccepted: readonly number[]): Promise<boolean>;
}
