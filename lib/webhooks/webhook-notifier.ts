import { type Clock, systemClock } from '../clock.ts';
import { type Logger, silentLogger } from '../logger.ts';
import { type FailedDeliveries, MAX_QUEUE_DELAY_SECONDS, type NotifierQueue, type WebhookDeliveryStore, type WebhookSecrets } from '../ports.ts';
import { type Task, type WebhookDelivery, isTerminal, webhookIdOf, webhookPayloadOf } from '../tasks/task.ts';
import type { SendResult, WebhookSender } from './http-sender.ts';
import { DEFAULT_RETRY_SCHEDULE_SECONDS, LEASE_SECONDS, EARLY_TOLERANCE_MS, RESEND_AFTER_SECONDS } from './delivery-schedule.ts';
import { signWebhook } from './signing.ts';

export interface WebhookNotifierOptions {
  readonly store: WebhookDeliveryStore;
  /** The notifier's own queue: a retry due within the queue's reach is sent back to it, delayed. */
  readonly queue: NotifierQueue;
  readonly failed: FailedDeliveries;
  readonly sender: WebhookSender;
  readonly secrets: WebhookSecrets;
  readonly retrySchedule?: readonly number[];
  readonly clock?: Clock;
  readonly logger?: Logger;
}

export type DeliveryOutcome = 'delivered' | 'retrying' | 'failed' | 'skipped';

/**
 * Delivers completion webhooks: POSTs a task's view, signed per Standard Webhooks with its owner's
 * secret, to its callbackUrl. A message is only a hint ("look at this task"): what is sent, where,
 * and whether anything is due at all is read from the task's record.
 *
 * At least once: an attempt is taken up by a conditional write that leases it, and counted
 * delivered only after a 2xx answer was recorded; a notifier that dies between the two leaves the
 * delivery leased, then taken up again (its message comes back, or the sweeper sends it). So a
 * receiver may see a delivery twice, always with the same `webhook-id` to tell it by. A 5xx, a 429,
 * a timeout or a failed connection is tried again on DEFAULT_RETRY_SCHEDULE_SECONDS; after the last,
 * the delivery fails and is put on the dead-letter queue (alarmed). Any other answer (a 4xx, a
 * redirect) and a target the address policy refuses fail it at once: trying again would not help.
 */
export class WebhookNotifier {
  readonly #store: WebhookDeliveryStore;
  readonly #queue: NotifierQueue;
  readonly #failed: FailedDeliveries;
  readonly #sender: WebhookSender;
  readonly #secrets: WebhookSecrets;
  readonly #schedule: readonly number[];
  readonly #clock: Clock;
  readonly #logger: Logger;

  constructor(options: WebhookNotifierOptions) {
    this.#store = options.store;
    this.#queue = options.queue;
    this.#failed = options.failed;
    this.#sender = options.sender;
    this.#secrets = options.secrets;
    this.#schedule = options.retrySchedule ?? DEFAULT_RETRY_SCHEDULE_SECONDS;
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger ?? silentLogger;
  }

  /** One notifier message: the next attempt of the task's delivery, if one is due. Store failures throw (the message comes back). */
  async deliver(taskId: string): Promise<DeliveryOutcome> {
    const task = await this.#store.get(taskId);
    const previous = task?.webhook;
    const nowMs = this.#clock.now();
    const why = whyNotDue(task, nowMs);
    if (why) {
      this.#logger.info('no webhook attempt due', { taskId, why });
      return 'skipped';
    }
    const now = new Date(nowMs).toISOString();
    const attempts = (previous?.attempts ?? 0) + 1;
    // Every attempt taken up is counted, sent or not: one whose notifier died before recording it
    // (a timeout, a crash) counts too, so a delivery that keeps killing its notifier still ends.
    if (attempts > this.#schedule.length + 1) return this.#giveUp(task!, previous!);
    const claimed = await this.#store.claimAttempt(taskId, {
      previous,
      next: { state: 'pending', attempts, lastAttemptAt: now, leaseUntil: new Date(nowMs + LEASE_SECONDS * 1000).toISOString() },
      notifyAt: new Date(nowMs + (LEASE_SECONDS + RESEND_AFTER_SECONDS) * 1000).toISOString(),
      at: now,
      ...this.#livesThrough(task!, attempts, nowMs),
    });
    if (!claimed) {
      this.#logger.info('no webhook attempt due', { taskId, why: 'another notifier took it up' });
      return 'skipped';
    }
    const result = await this.#send(claimed, nowMs);
    return this.#record(claimed, attempts, result, nowMs);
  }

  /**
   * A later `expiresAt` for a task whose remaining retries would outlive it (the table's TTL would
   * delete the delivery with the task): until the last attempt could be made, and an hour more to
   * read how it went.
   */
  #livesThrough(task: Task, attempts: number, nowMs: number): { expiresAt?: number } {
    const remaining = this.#schedule.slice(attempts - 1).reduce((sum, seconds) => sum + seconds, 0);
    const needed = Math.ceil(nowMs / 1000) + remaining + LEASE_SECONDS + RESEND_AFTER_SECONDS + 3600;
    return needed > task.expiresAt ? { expiresAt: needed } : {};
  }

  /**
   * Ends a delivery whose attempts were all taken up without the last being recorded (its notifiers
   * died): failed, and put on the dead-letter queue first, so that a failure to put it leaves the
   * delivery pending, to end here again, rather than failed without an alarm.
   */
  async #giveUp(task: Task, previous: WebhookDelivery): Promise<DeliveryOutcome> {
    const why = 'its last attempt was taken up but never recorded (the notifier died or timed out)';
    this.#logger.error('webhook delivery failed after its retries', { taskId: task.id, webhookId: webhookIdOf(task.id), attempts: previous.attempts, why });
    await this.#failed.put(task.id, `${previous.attempts} attempts; ${why}`);
    await this.#write(task.id, { delivery: { ...withoutLease(previous), state: 'failed', lastError: why } });
    return 'failed';
  }

  async #send(task: Task, nowMs: number): Promise<AttemptResult> {
    const secret = await this.#secrets.secretOf(task.owner);
    // Retried: the users may have been changed since this notifier read them (it reads them again).
    if (secret === undefined) return { kind: 'no_secret' };
    const body = webhookPayloadOf(task);
    const headers = signWebhook(secret, webhookIdOf(task.id), new Date(nowMs), body);
    return this.#sender.send({ url: task.callbackUrl!, headers, body });
  }

  async #record(task: Task, attempts: number, result: AttemptResult, attemptedAtMs: number): Promise<DeliveryOutcome> {
    const nowMs = this.#clock.now();
    const lastAttemptAt = new Date(attemptedAtMs).toISOString();
    const last = result.kind === 'response' ? { lastStatus: result.status } : { lastError: describe(result) };
    const log = { taskId: task.id, webhookId: webhookIdOf(task.id), attempts, ...last };
    if (result.kind === 'response' && result.status >= 200 && result.status < 300) {
      await this.#write(task.id, { delivery: { state: 'delivered', attempts, lastAttemptAt, ...last } });
      this.#logger.info('webhook delivered', log);
      return 'delivered';
    }
    const delaySeconds = isRetryable(result) ? this.#schedule[attempts - 1] : undefined;
    if (delaySeconds === undefined) {
      if (isRetryable(result)) {
        // Retries spent: for an operator to look at (the dead-letter queue is alarmed). Put there
        // before the failure is recorded: should the put fail, the message comes back and the
        // delivery, still pending, ends here again (a second put is better than none).
        this.#logger.error('webhook delivery failed after its retries', log);
        await this.#failed.put(task.id, `${attempts} attempts; last: ${last.lastError ?? `HTTP ${last.lastStatus}`}`);
      } else {
        this.#logger.warn('webhook delivery refused; not retried', log);
      }
      await this.#write(task.id, { delivery: { state: 'failed', attempts, lastAttemptAt, ...last } });
      return 'failed';
    }
    const nextMs = nowMs + delaySeconds * 1000;
    const nextAttemptAt = new Date(nextMs).toISOString();
    // Within the queue's own delay the notifier sends itself the next attempt; beyond it, the
    // sweeper does when it is nearly due. Either way the delivery stays in the webhook index, due at
    // `notifyAt`, for the sweeper to send again should that message be lost.
    const selfSent = delaySeconds <= MAX_QUEUE_DELAY_SECONDS;
    const notifyAt = selfSent ? new Date(nextMs + RESEND_AFTER_SECONDS * 1000).toISOString() : nextAttemptAt;
    await this.#write(task.id, { delivery: { state: 'pending', attempts, lastAttemptAt, nextAttemptAt, ...last }, notifyAt });
    this.#logger.warn('webhook attempt failed; trying again', { ...log, nextAttemptAt });
    if (selfSent) {
      await this.#queue.send(task.id, { delaySeconds }).catch((error: unknown) => {
        this.#logger.warn('could not queue the next webhook attempt; the sweeper will', { taskId: task.id, error });
      });
    }
    return 'retrying';
  }

  async #write(taskId: string, record: Parameters<WebhookDeliveryStore['recordAttempt']>[1]): Promise<void> {
    if (!(await this.#store.recordAttempt(taskId, record))) {
      this.#logger.warn('a webhook attempt was recorded over by a later one', { taskId });
    }
  }
}

/** Why no attempt is due for this task now, or undefined when one is. */
function whyNotDue(task: Task | undefined, nowMs: number): string | undefined {
  if (!task) return 'no such task';
  if (task.callbackUrl === undefined) return 'the task has no callbackUrl';
  if (!isTerminal(task.state)) return 'the task has not ended';
  const delivery: WebhookDelivery | undefined = task.webhook;
  if (delivery && delivery.state !== 'pending') return `its delivery is ${delivery.state}`;
  if (delivery?.leaseUntil !== undefined && Date.parse(delivery.leaseUntil) > nowMs) return 'another notifier is making an attempt';
  if (delivery?.nextAttemptAt !== undefined && Date.parse(delivery.nextAttemptAt) - nowMs > EARLY_TOLERANCE_MS) {
    return 'its next attempt is not due yet';
  }
  return undefined;
}

/** How an attempt went: what the sender said, or that there was no secret to sign with. */
type AttemptResult = SendResult | { readonly kind: 'no_secret' };

/**
 * A 5xx, a 429, a timeout or a connection that failed: the receiver may take it later; and a
 * missing secret, which the users' next reading may bring.
 */
export function isRetryable(result: AttemptResult): boolean {
  if (result.kind === 'timeout' || result.kind === 'network' || result.kind === 'no_secret') return true;
  if (result.kind === 'response') return result.status >= 500 || result.status === 429;
  return false;
}

function describe(result: Exclude<AttemptResult, { kind: 'response' }>): string {
  if (result.kind === 'timeout') return 'timeout';
  if (result.kind === 'no_secret') return 'no webhook secret is configured for the task owner';
  return `${result.kind === 'refused' ? 'refused' : 'network'}: ${result.message}`;
}

function withoutLease({ leaseUntil: _lease, ...delivery }: WebhookDelivery): WebhookDelivery {
  return delivery;
}
