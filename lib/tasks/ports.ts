import type { Task, TaskFailure, TaskState } from './task.ts';
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
}

export interface StateChange {
  readonly from: readonly TaskState[];
  readonly to: TaskState;
  readonly at: string;
  readonly result?: string;
  readonly error?: TaskFailure;
}

/** Hands tasks to workers. One implementation talks to SQS (lib/aws/sqs-task-queue.ts). */
export interface TaskQueue {
  send(message: TaskMessage): Promise<void>;
}
