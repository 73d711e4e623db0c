import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { callAws } from './aws-errors.ts';
import type { FailedDeliveries, NotifierQueue } from '../ports.ts';
import { encodeNotice } from '../webhooks/delivery-schedule.ts';

export interface SqsWebhookQueueOptions {
  readonly client: SQSClient;
  readonly queueUrl: string;
}

/**
 * The notifier's queue on SQS (a message is a task id: "its webhook may be due"), or, as
 * FailedDeliveries, its dead-letter queue, where a delivery whose retries are spent is put with why.
 * Any failure to send becomes UnavailableError (aws-errors.ts).
 */
export class SqsWebhookQueue implements NotifierQueue, FailedDeliveries {
  readonly #client: SQSClient;
  readonly #queueUrl: string;

  constructor(options: SqsWebhookQueueOptions) {
    this.#client = options.client;
    this.#queueUrl = options.queueUrl;
  }

  /** With `delaySeconds` (up to 900, SQS's limit) the notifier receives it no sooner. */
  async send(taskId: string, options: { readonly delaySeconds?: number } = {}): Promise<void> {
    const delay = options.delaySeconds !== undefined && options.delaySeconds > 0 ? { DelaySeconds: Math.ceil(options.delaySeconds) } : {};
    await this.#send(encodeNotice(taskId), delay);
  }

  async put(taskId: string, why: string): Promise<void> {
    await this.#send(JSON.stringify({ taskId, why }), {});
  }

  async #send(body: string, delay: { DelaySeconds?: number }): Promise<void> {
    await callAws('the webhook queue could not accept the message', () =>
      this.#client.send(new SendMessageCommand({ QueueUrl: this.#queueUrl, MessageBody: body, ...delay })),
    );
  }
}
