import { createHash, randomUUID } from 'node:crypto';

/**
 * SCHEDULED while a task waits in the store for a time too far ahead for the queue's own delay (the
 * sweeper queues it when it is nearly due); PENDING once queued, until a worker ends the task; RETRY
 * once a delivery did not end it (an infrastructure error, or a worker that died: the queue delivers
 * the message again). No STARTED: on a first delivery the worker writes only the end state (see
 * TaskWorker). CANCELLED by its owner, from any open state.
 */
export const TASK_STATES = ['SCHEDULED', 'PENDING', 'RETRY', 'SUCCESS', 'FAILURE', 'CANCELLED'] as const;
export type TaskState = (typeof TASK_STATES)[number];

export const TERMINAL_STATES: readonly TaskState[] = ['SUCCESS', 'FAILURE', 'CANCELLED'];
/** States its owner may cancel a task from: every open one. */
export const CANCELLABLE_STATES: readonly TaskState[] = ['SCHEDULED', 'PENDING', 'RETRY'];
/** States a worker may end a task from: any open one, so a task whose worker died is picked up again. */
export const RUNNABLE_STATES: readonly TaskState[] = ['PENDING', 'RETRY'];

export function isTerminal(state: TaskState): boolean {
  return TERMINAL_STATES.includes(state);
}

/** A JSON value, as stored and sent. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** What a task computes from: its name and its args in their canonical wire form (TaskCatalog.prepare). */
export interface TaskInput {
  readonly name: string;
  readonly args: Json;
}

/**
 * A digest of a task's input, JSON-encoded so that ("ab", ["c"]) and ("a", ["bc"]) differ. The
 * store keeps it beside the task, so a write can be conditioned on the input a message claims.
 */
export function taskInputDigest({ name, args }: TaskInput): string {
  return createHash('sha256').update(JSON.stringify([name, args])).digest('hex');
}

export function isSameInput(a: TaskInput, b: TaskInput): boolean {
  return taskInputDigest(a) === taskInputDigest(b);
}

/** How far a running task is, as its `run` last reported it (TaskContext.progress). */
export interface TaskProgress {
  /** 0 to 1. */
  readonly fraction: number;
  readonly done?: number;
  readonly total?: number;
  readonly message?: string;
  /** When it was reported. */
  readonly at: string;
}

export interface TaskFailure {
  readonly code: string;
  readonly message: string;
}

/** A task as stored. Args and result are in their wire form (exact integers as numbers or strings). */
export interface Task {
  readonly id: string;
  readonly owner: string;
  readonly name: string;
  readonly args: Json;
  readonly state: TaskState;
  readonly result?: Json;
  readonly error?: TaskFailure;
  readonly progress?: TaskProgress;
  /** When a worker last started it (tasks that are not pure only). */
  readonly startedAt?: string;
  /** When it is to run, for a task submitted to run later (`runAt` or `delaySeconds`). */
  readonly runAt?: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  /** Epoch seconds: the unit DynamoDB's TTL reads. */
  readonly expiresAt: number;
  /** How often the sweeper has queued the task again, and when it last did. */
  readonly requeues?: number;
  readonly requeuedAt?: string;
  /** Where its end is POSTed (a completion webhook), and how that delivery went. */
  readonly callbackUrl?: string;
  readonly webhook?: WebhookDelivery;
}

/**
 * The delivery of a task's completion webhook, as the notifier recorded it. `pending` until it is
 * delivered (a 2xx) or given up (`failed`: refused at once, or its retries spent); `leaseUntil` is
 * while one notifier holds the attempt it is making.
 */
export interface WebhookDelivery {
  readonly state: 'pending' | 'delivered' | 'failed';
  readonly attempts: number;
  /** The HTTP status of the last attempt's answer. */
  readonly lastStatus?: number;
  /** Why the last attempt failed without an answer (timeout, connection refused, a refused address…). */
  readonly lastError?: string;
  readonly lastAttemptAt?: string;
  readonly nextAttemptAt?: string;
  readonly leaseUntil?: string;
}

/** How a completion webhook is shown: what the notifier recorded, or `pending` before its first attempt. */
export type WebhookDeliveryView = Omit<WebhookDelivery, 'leaseUntil'> & { readonly id: string };

/** What the API returns for a task. */
export interface TaskView {
  id: string;
  name: string;
  args: Json;
  state: TaskState;
  result?: Json;
  error?: TaskFailure;
  progress?: TaskProgress;
  runAt?: string;
  callbackUrl?: string;
  /** Present once the task has ended, when it has a callbackUrl. */
  webhook?: WebhookDeliveryView;
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
    args: task.args,
    state: task.state,
    ...(task.result !== undefined && { result: task.result }),
    ...(task.error !== undefined && { error: task.error }),
    ...(task.progress !== undefined && { progress: task.progress }),
    ...(task.runAt !== undefined && { runAt: task.runAt }),
    ...(task.callbackUrl !== undefined && { callbackUrl: task.callbackUrl }),
    ...(hasWebhook(task) && { webhook: webhookViewOf(task) }),
    createdAt: task.createdAt,
    updatedAt: task.updatedAt,
    expiresAt: new Date(task.expiresAt * 1000).toISOString(),
  };
}

/** The Standard Webhooks message id of a task's completion: one task ends once, so every attempt shares it. */
export function webhookIdOf(taskId: string): string {
  return `msg_${taskId.startsWith('task_') ? taskId.slice('task_'.length) : taskId}`;
}

/**
 * Whether the task's end is (to be) delivered: it has a callbackUrl and has ended, and was accepted
 * (a task ended `enqueue_failed` never ran, its submitter was told so, and nothing is sent for it).
 */
function hasWebhook(task: Task): boolean {
  return task.callbackUrl !== undefined && isTerminal(task.state) && task.error?.code !== 'enqueue_failed';
}

function webhookViewOf(task: Task): WebhookDeliveryView {
  const { leaseUntil: _lease, ...delivery } = task.webhook ?? { state: 'pending', attempts: 0 };
  return { id: webhookIdOf(task.id), ...delivery };
}

/** The task as its completion webhook carries it: the view, without the delivery's own bookkeeping. */
export function webhookPayloadOf(task: Task): string {
  const { webhook: _delivery, ...view } = toTaskView(task);
  return JSON.stringify(view);
}
