import { createHash, randomUUID } from 'node:crypto';
import { toJsonInteger } from './integers.ts';

/**
 * PENDING until a worker ends the task; RETRY once a delivery did not end it (an infrastructure
 * error, or a worker that died: the queue delivers the message again). No STARTED: on a first
 * delivery the worker writes only the end state (see TaskWorker).
 */
export const TASK_STATES = ['PENDING', 'RETRY', 'SUCCESS', 'FAILURE'] as const;
export type TaskState = (typeof TASK_STATES)[number];

export const TERMINAL_STATES: readonly TaskState[] = ['SUCCESS', 'FAILURE'];
/** States a worker may end a task from: any open one, so a task whose worker died is picked up again. */
export const RUNNABLE_STATES: readonly TaskState[] = ['PENDING', 'RETRY'];

export function isTerminal(state: TaskState): boolean {
  return TERMINAL_STATES.includes(state);
}

/** What a task computes from: its name and its arguments as decimal strings. */
export interface TaskInput {
  readonly name: string;
  readonly args: readonly string[];
}

/**
 * A digest of a task's input, JSON-encoded so that ("ab", ["c"]) and ("a", ["bc"]) differ. The
 * store keeps it beside the task, so a write can be conditioned on the input a message claims.
 */
export function taskInputDigest({ name, args }: TaskInput): string {
  return createHash('sha256').update(JSON.stringify([name, args])).digest('hex');
}

export function isSameInput(a: TaskInput, b: TaskInput): boolean {
  return a.name === b.name && a.args.length === b.args.length && a.args.every((arg, index) => arg === b.args[index]);
}

export interface TaskFailure {
  readonly code: string;
  readonly message: string;
}

/** A task as stored. Integers are decimal strings so no precision is lost anywhere on the way. */
export interface Task {
  readonly id: string;
  readonly owner: string;
  readonly name: string;
  readonly args: readonly string[];
  readonly state: TaskState;
  readonly result?: string;
  readonly error?: TaskFailure;
  readonly createdAt: string;
  readonly updatedAt: string;
  /** Epoch seconds: the unit DynamoDB's TTL reads. */
  readonly expiresAt: number;
  /** How often the sweeper has queued the task again, and when it last did. */
  readonly requeues?: number;
  readonly requeuedAt?: string;
}

/** What the API returns for a task. */
export interface TaskView {
  id: string;
  name: string;
  args: (number | string)[];
  state: TaskState;
  result?: number | string;
  error?: TaskFailure;
  createdAt: string;
  updatedAt: string;
  expiresAt: string;
}

/** `task_` and a lower-case UUID v4 (the API's schema for task ids uses it too). */
export const TASK_ID_PATTERN = /^task_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

export function newTaskId(): string {
  return `task_${randomUUID()}`;
}

export function isTaskId(value: string): boolean {
  return TASK_ID_PATTERN.test(value);
}

export function isExpired(task: Task, nowMs: number): boolean {
  return task.expiresAt * 1000 <= nowMs;
}

export function toTaskView(task: Task): TaskView {
  return {
    id: task.id,
    name: task.name,
    args: task.args.map((arg) => toJsonInteger(BigInt(arg))),
    state: task.state,
    ...(task.result !== undefined && { result: toJsonInteger(BigInt(task.result)) }),
    ...(task.error !== undefined && { error: task.error }),
    createdAt: task.createdAt,
    updatedAt: task.updatedAt,
    expiresAt: new Date(task.expiresAt * 1000).toISOString(),
  };
}
