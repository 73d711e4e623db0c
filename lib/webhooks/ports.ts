import type { Task, WebhookDelivery } from '../tasks/task.ts';

/**
 * Where completion webhooks' deliveries are recorded: on the task's own record (one implementation,
 * DynamoDbTaskStore). Every write is conditional, so duplicate messages and racing notifiers make
 * one attempt at a time and never record over each other.
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
