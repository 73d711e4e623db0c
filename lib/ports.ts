/**
 * The ports of the core: every store and queue it takes, as small interfaces, in one place. lib/aws
 * holds their only implementations (DynamoDB, SQS), each of which turns AWS errors into domain
 * errors (lib/aws/aws-errors.ts) and does nothing else; test/support holds in-memory ones. The core
 * (lib/tasks, lib/auth, lib/limits, lib/webhooks, lib/http) imports these, never an adapter.
 */
import type { Admission, AttemptRule } from './auth/login-throttle.ts';
import type { UnavailableError } from './errors.ts';
import type { RateDecision, UserLimits } from './limits/user-limits.ts';
import type { IdempotencyClaim } from './tasks/idempotency.ts';
import type { Json, Task, TaskFailure, TaskInput, TaskProgress, TaskState, WebhookDelivery } from './tasks/task.ts';
import type { TaskMessage } from './tasks/task-message.ts';

// Tasks: their records (DynamoDB), and the queue that hands them to workers (SQS).

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

// Idempotency-Key claims (DynamoDB).

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

// Each user's limits: the request rate and the open tasks (DynamoDB).

/**
 * Each user's request rate (a GCRA bucket, see lib/limits/user-limits.ts). One implementation keeps the
 * buckets in DynamoDB (lib/aws/dynamodb-request-rates.ts), so every API instance sees the same one.
 */
export interface RequestRateStore {
  /**
   * Takes one token from `user`'s bucket at `nowMs`, or refuses with `retryAfterSeconds`. Atomic:
   * however many calls race, a bucket admits no more than the GCRA allows (200 simultaneous calls on
   * a full bucket of `burst: 20` admit exactly 20). Throws UnavailableError when the store cannot
   * answer.
   */
  take(user: string, nowMs: number, limits: UserLimits): Promise<RateDecision>;
}

/** A task that holds an open-task slot, and when it expires (epoch seconds, the task's `expiresAt`). */
export interface SlotTask {
  readonly id: string;
  readonly expiresAt: number;
}

export type SlotReservation = { readonly admitted: true } | { readonly admitted: false; readonly open: number };

/**
 * Each owner's open tasks, counted against a ceiling. One implementation keeps them in DynamoDB
 * (lib/aws/dynamodb-open-task-slots.ts).
 */
export interface OpenTaskSlots {
  /**
   * Takes a slot for every task of `tasks`, or none: a batch of 100 needs 100 free, with `limit`
   * slots in all. Atomic under concurrency. A refusal says how many slots are `open` (held) once
   * stale ones were cleared: those whose task has expired, ended, or (after a grace for a task still
   * being recorded) does not exist, which heals a release that was lost. At most 100 tasks a call.
   */
  reserve(owner: string, tasks: readonly SlotTask[], limit: number, nowMs: number): Promise<SlotReservation>;
  /** Gives the slots of `taskIds` back; an id holding no slot is ignored. */
  release(owner: string, taskIds: readonly string[]): Promise<void>;
}

// Login attempts (DynamoDB).

/**
 * Login attempts per key, in rolling windows. One implementation keeps them in DynamoDB
 * (lib/aws/dynamodb-login-attempts.ts), so every API instance sees the same attempts.
 */
export interface LoginAttemptStore {
  /**
   * Records attempt `attemptId`, made at `atMs`, under `key` unless `rule.limit` attempts made
   * within `rule.windowSeconds` before it are recorded there already. Atomic: however many calls run
   * at once, at most `rule.limit` attempts within any window are ever admitted. A refusal says when
   * the oldest of them leaves the window.
   */
  admit(key: string, attemptId: string, atMs: number, rule: AttemptRule): Promise<Admission>;
  /** Removes one recorded attempt; nothing happens if it is gone. */
  forget(key: string, attemptId: string): Promise<void>;
  /** Remembers `key` (a user name at an address that logged in) until `untilMs`. */
  trust(key: string, untilMs: number): Promise<void>;
  /** Whether `key` is remembered at `atMs`. */
  isTrusted(key: string, atMs: number): Promise<boolean>;
}

// Completion webhooks: their deliveries (on the task records), the notifier's queues, the signing secrets.

/**
 * Where completion webhooks' deliveries are recorded: on the task's own record (one implementation,
 * lib/aws/dynamodb-webhook-deliveries.ts, which DynamoDbTaskStore serves too). Every write is
 * conditional, so duplicate messages and racing notifiers make one attempt at a time and never
 * record over each other.
 */
export interface WebhookDeliveryStore {
  /** A strongly consistent read of the task. */
  get(id: string): Promise<Task | undefined>;
  /** Takes up the next attempt; the task as it now is, or undefined when another took it or it is done. */
  claimAttempt(id: string, claim: AttemptClaim): Promise<Task | undefined>;
  /** Records how an attempt went; false when a later attempt has been taken up since. */
  recordAttempt(id: string, record: AttemptRecord): Promise<boolean>;
  /** Deliveries whose `notifyAt` is at or before `dueBy` (ISO time), soonest first: the sweeper's candidates. May lag a write (an index). */
  listDueDeliveries(dueBy: string, limit: number): Promise<DueDelivery[]>;
  /** Moves a delivery's `notifyAt` only if it is still `seenNotifyAt`; false otherwise. */
  postponeDelivery(id: string, seenNotifyAt: string, notifyAt: string): Promise<boolean>;
}

export interface AttemptClaim {
  /** The delivery as read before the claim (undefined before the first attempt). */
  readonly previous: WebhookDelivery | undefined;
  /** The delivery with this attempt counted and leased. */
  readonly next: WebhookDelivery;
  /** When the sweeper sends the delivery again should this attempt never be recorded (its notifier died). */
  readonly notifyAt: string;
  readonly at: string;
  /**
   * The task's new `expiresAt` (epoch seconds), when its delivery's retries would outlive it: the
   * table's TTL must not delete a task whose webhook is still being delivered.
   */
  readonly expiresAt?: number;
}

export interface AttemptRecord {
  readonly delivery: WebhookDelivery;
  /** When the next attempt is due (it stays in the webhook index); undefined when the delivery is done. */
  readonly notifyAt?: string;
}

export interface DueDelivery {
  readonly id: string;
  readonly notifyAt: string;
}

/** Messages to the notifier: a task id, and when to deliver (SQS DelaySeconds, up to 900). */
export interface NotifierQueue {
  send(taskId: string, options?: { readonly delaySeconds?: number }): Promise<void>;
}

/** Where deliveries that spent their retries are put aside for an operator (a dead-letter queue, alarmed). */
export interface FailedDeliveries {
  put(taskId: string, why: string): Promise<void>;
}

/** Each user's webhook signing secret (`whsec_…`). */
export interface WebhookSecrets {
  /** Undefined for a user who has none (yet: the users may have changed since they were read). */
  secretOf(owner: string): Promise<string | undefined>;
}
