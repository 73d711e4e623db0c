import { ChangeMessageVisibilityCommand, GetQueueAttributesCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { UnavailableError } from '../errors.ts';
import type { MessageLease, TaskQueue } from '../tasks/ports.ts';
import { type TaskMessage, encodeTaskMessage } from '../tasks/task-message.ts';

export interface SqsTaskQueueOptions {
  readonly client: SQSClient;
  readonly queueUrl: string;
}

/** The task queue on SQS. Any failure to send becomes UnavailableError. */
export class SqsTaskQueue implements TaskQueue {
  readonly #client: SQSClient;
  readonly #queueUrl: string;

  constructor(options: SqsTaskQueueOptions) {
    this.#client = options.client;
    this.#queueUrl = options.queueUrl;
  }

  /** Reads the queue's ARN: shows the queue exists and answers, for the API's readiness. */
  async ping(): Promise<void> {
    try {
      await this.#client.send(new GetQueueAttributesCommand({ QueueUrl: this.#queueUrl, AttributeNames: ['QueueArn'] }));
    } catch (error) {
      throw new UnavailableError('the task queue could not be reached', { cause: error });
    }
  }

  async send(message: TaskMessage): Promise<void> {
    try {
      await this.#client.send(new SendMessageCommand({ QueueUrl: this.#queueUrl, MessageBody: encodeTaskMessage(message) }));
    } catch (error) {
      throw new UnavailableError('the task queue could not accept the task', { cause: error });
    }
  }

  /** A worker's hold on a message it received: ChangeMessageVisibility with its receipt handle. */
  lease(receiptHandle: string): MessageLease {
    return {
      extend: async (seconds) => {
        try {
          await this.#client.send(
            new ChangeMessageVisibilityCommand({ QueueUrl: this.#queueUrl, ReceiptHandle: receiptHandle, VisibilityTimeout: Math.ceil(seconds) }),
          );
        } catch (error) {
          throw new UnavailableError('the task queue could not change a message\'s visibility', { cause: error });
        }
      },
    };
  }
}
