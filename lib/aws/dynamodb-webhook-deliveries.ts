import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { AttemptClaim, AttemptRecord, DueDelivery, WebhookDeliveryStore } from '../ports.ts';
import { TERMINAL_STATES, type Task } from '../tasks/task.ts';
import { DynamoDbItems } from './dynamodb-items.ts';
import { Expression, updateTask } from './dynamodb-task-conditions.ts';
import { WEBHOOK_DELIVERIES, soonestAcrossShards, toTask } from './dynamodb-task-items.ts';

export interface DynamoDbWebhookDeliveriesOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
}

/**
 * Completion webhooks' deliveries, kept on their task's own item in the task table (`webhook`, and
 * `notifyAt` in the webhook-deliveries index while one is due). Every write is conditional, so two
 * messages for one delivery, or two notifiers, make one attempt. DynamoDbTaskStore serves the same
 * through its own methods, for the callers that hold the task store.
 */
export class DynamoDbWebhookDeliveries implements WebhookDeliveryStore {
  readonly #items: DynamoDbItems;

  constructor(options: DynamoDbWebhookDeliveriesOptions) {
    this.#items = new DynamoDbItems(options.client, options.tableName, 'task store');
  }

  async get(id: string): Promise<Task | undefined> {
    const item = await this.#items.get(id, { what: 'read the task' });
    return item && toTask(item);
  }

  /**
   * Takes up the next attempt of a task's completion webhook: only while the task has ended, its
   * delivery is not done (it still carries notifyShard), no attempt has been recorded since
   * `claim.previous` was read, and no other notifier holds a lease on it. So two messages for one
   * delivery, or two notifiers, make one attempt.
   */
  async claimAttempt(id: string, claim: AttemptClaim): Promise<Task | undefined> {
    const update = new Expression();
    const ended = TERMINAL_STATES.map((state) => update.value(state)).join(', ');
    const conditions = ['attribute_exists(notifyShard)', `${update.name('state')} IN (${ended})`];
    if (claim.previous === undefined) {
      conditions.push('attribute_not_exists(webhook)');
    } else {
      conditions.push(`webhook.attempts = ${update.value(claim.previous.attempts)}`, `webhook.${update.name('state')} = ${update.value('pending')}`);
      conditions.push(`(attribute_not_exists(webhook.leaseUntil) OR webhook.leaseUntil < ${update.value(claim.at)})`);
    }
    const expiry = claim.expiresAt === undefined ? '' : `, ${update.name('expiresAt')} = ${update.value(claim.expiresAt)}`;
    const expression = `SET webhook = ${update.value(claim.next)}, notifyAt = ${update.value(claim.notifyAt)}${expiry}`;
    const output = await updateTask(this.#items, id, update, expression, conditions.join(' AND '), 'ALL_NEW');
    return output && toTask(output);
  }

  /**
   * Records how attempt `record.delivery.attempts` went, only while it is still the last one taken
   * up. A delivery that is done (delivered or failed) leaves the webhook index; one to try again
   * stays in it, due at `record.notifyAt`.
   */
  async recordAttempt(id: string, record: AttemptRecord): Promise<boolean> {
    const update = new Expression();
    const condition = `webhook.attempts = ${update.value(record.delivery.attempts)}`;
    const expression =
      record.notifyAt === undefined
        ? `SET webhook = ${update.value(record.delivery)} REMOVE notifyShard, notifyAt`
        : `SET webhook = ${update.value(record.delivery)}, notifyAt = ${update.value(record.notifyAt)}`;
    return (await updateTask(this.#items, id, update, expression, condition, 'NONE')) !== undefined;
  }

  /** Deliveries due by `dueBy` (ISO time), from every shard of the webhook index, soonest first. */
  async listDueDeliveries(dueBy: string, limit: number): Promise<DueDelivery[]> {
    const due = await soonestAcrossShards(this.#items, WEBHOOK_DELIVERIES, dueBy, limit, 'list due webhook deliveries');
    return due.map((item) => ({ id: item.id as string, notifyAt: item.notifyAt as string }));
  }

  /** Moves a delivery's `notifyAt` from the one the sweeper saw; false when it moved (or ended) since. */
  async postponeDelivery(id: string, seenNotifyAt: string, notifyAt: string): Promise<boolean> {
    const update = new Expression();
    const condition = `attribute_exists(notifyShard) AND notifyAt = ${update.value(seenNotifyAt)}`;
    return (await updateTask(this.#items, id, update, `SET notifyAt = ${update.value(notifyAt)}`, condition, 'NONE')) !== undefined;
  }
}
