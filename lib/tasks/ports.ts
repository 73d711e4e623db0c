import type { IdempotencyClaim } from './idempotency.ts';
import type { Json, Task, TaskFailure, TaskInput, TaskProgress, TaskState } from './task.ts';
import type { TaskMessage } from './task-message.ts';

/**
 * Where tasks live. One implementation talks to DynamoDB (lib/aws/dynamodb-task-store.ts); it turns
 * AWS errors into domain errors (UnavailableError) and does nothing else.
 */
export interface TaskStore {
  /** Records a new task. */
  create(task: Task): Promise<void>;
  /** A strongly consistent read; `undefined` when no such item exists (expiry is the caller's call). */
  get(id: string): Promise<Task | undefined>;
  /**
   * Moves a task to `to` only if it is currently in one of `from`: the conditional write that keeps a
   * terminal state from ever being overwritten. Returns the updated task, or `undefined` when the
   * task is missing or in another state.
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
   * Counts one more requeue of an open task, only if it has been requeued `previous` times so far,
   * so two sweepers never both requeue it. False when the condition failed.
   */
  recordRequeue(id: string, previous: number, at: string): Promise<boolean>;
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

/** Hands tasks to workers. One implementation talks to SQS (lib/aws/sqs-task-queue.ts). */
export interface TaskQueue {
  send(message: TaskMessage): Promise<void>;
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
}
