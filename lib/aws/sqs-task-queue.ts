import {
  ChangeMessageVisibilityCommand,
  GetQueueAttributesCommand,
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { UnavailableError } from '../errors.ts';
import { awsUnavailable, callAws } from './aws-errors.ts';
import { backoff, eachConcurrently } from '../concurrency.ts';
import type { MessageLease, QueuedMessage, TaskQueue } from '../ports.ts';
import { type TaskMessage, encodeTaskMessage } from '../tasks/task-message.ts';

/**
 * SendMessageBatch takes at most 10 messages, and at most 1 MiB of them in all on AWS today, but
 * SQS's limit was 256 KiB until 2025, and a queue or an SQS-compatible service may still hold to it
 * (a queue's MaximumMessageSize): 256 KiB a call is taken by every one.
 * https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatch.html
 */
const BATCH_MAX_ENTRIES = 10;
const BATCH_MAX_BYTES = 256 * 1024;
const BATCH_CONCURRENCY = 4;
/**
 * Entries that failed on SQS's side (SenderFault false: throttled, an internal error) are sent
 * again after an exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff
 * And Jitter"): up to 3 more times, waiting up to 20, 40, 80 ms. An entry SQS refused as the
 * sender's fault would be refused again, and is not.
 */
const BATCH_RETRIES = 3;
const BATCH_BACKOFF_MS = 20;

export interface SqsTaskQueueOptions {
  readonly client: SQSClient;
  readonly queueUrl: string;
}

/** The task queue on SQS. Any failure to send becomes UnavailableError (aws-errors.ts). */
export class SqsTaskQueue implements TaskQueue {
  readonly #client: SQSClient;
  readonly #queueUrl: string;

  constructor(options: SqsTaskQueueOptions) {
    this.#client = options.client;
    this.#queueUrl = options.queueUrl;
  }

  /** Reads the queue's ARN: shows the queue exists and answers, for the API's readiness. */
  async ping(): Promise<void> {
    await callAws('the task queue could not be reached', () =>
      this.#client.send(new GetQueueAttributesCommand({ QueueUrl: this.#queueUrl, AttributeNames: ['QueueArn'] })),
    );
  }

  /** With `delaySeconds` (up to 900, SQS's limit) no worker receives the message before then. */
  async send(message: TaskMessage, options: { readonly delaySeconds?: number } = {}): Promise<void> {
    await callAws('the task queue could not accept the task', () =>
      this.#client.send(
        new SendMessageCommand({ QueueUrl: this.#queueUrl, MessageBody: encodeTaskMessage(message), ...delayOf(options.delaySeconds) }),
      ),
    );
  }

  /**
   * SendMessageBatch calls of up to 10 messages and 256 KiB, a few at once. A call that fails
   * outright counts all of its messages as unsent (the SDK has retried it already; it may have
   * been delivered, which the caller allows for).
   */
  async sendMany(messages: readonly QueuedMessage[]): Promise<ReadonlyMap<string, UnavailableError>> {
    const unsent = new Map<string, UnavailableError>();
    await eachConcurrently(batchesOf(messages), BATCH_CONCURRENCY, async (batch) => {
      for (const [taskId, error] of await this.#sendBatch(batch)) unsent.set(taskId, error);
    });
    return unsent;
  }

  /** One SendMessageBatch and its retries; resolves with the task ids left unsent and why, never rejects. */
  async #sendBatch(batch: readonly Entry[]): Promise<Map<string, UnavailableError>> {
    let pending = [...batch];
    const unsent = new Map<string, UnavailableError>();
    const failedEntry = (failure: { Code?: string; Message?: string } | undefined) =>
      new UnavailableError(`the task queue refused the message: ${failure?.Code ?? 'unknown'} ${failure?.Message ?? ''}`.trim());
    let lastFailures = new Map<string | undefined, { Code?: string; Message?: string }>();
    for (let retry = 0; ; retry += 1) {
      try {
        const output = await this.#client.send(
          new SendMessageBatchCommand({ QueueUrl: this.#queueUrl, Entries: pending.map((entry) => entry.request) }),
        );
        // Only an entry listed as Successful was sent; a failure SQS blames on the sender is final.
        const sent = new Set(output.Successful?.map((result) => result.Id));
        lastFailures = new Map(output.Failed?.map((failure) => [failure.Id, failure]));
        const senderFaults = new Set(output.Failed?.filter((failure) => failure.SenderFault).map((failure) => failure.Id));
        const left = pending.filter((entry) => !sent.has(entry.request.Id));
        for (const entry of left.filter((each) => senderFaults.has(each.request.Id))) {
          unsent.set(entry.taskId, failedEntry(lastFailures.get(entry.request.Id)));
        }
        pending = left.filter((entry) => !senderFaults.has(entry.request.Id));
      } catch (cause) {
        const error = awsUnavailable('the task queue could not accept the tasks', cause);
        for (const entry of pending) unsent.set(entry.taskId, error);
        return unsent;
      }
      if (pending.length === 0 || retry === BATCH_RETRIES) break;
      await backoff(retry, BATCH_BACKOFF_MS);
    }
    for (const entry of pending) unsent.set(entry.taskId, failedEntry(lastFailures.get(entry.request.Id)));
    return unsent;
  }

  /** A worker's hold on a message it received: ChangeMessageVisibility with its receipt handle. */
  lease(receiptHandle: string): MessageLease {
    return {
      extend: async (seconds) => {
        await callAws('the task queue could not change a message\'s visibility', () =>
          this.#client.send(
            new ChangeMessageVisibilityCommand({ QueueUrl: this.#queueUrl, ReceiptHandle: receiptHandle, VisibilityTimeout: Math.ceil(seconds) }),
          ),
        );
      },
    };
  }
}

interface Entry {
  readonly taskId: string;
  readonly request: SendMessageBatchRequestEntry;
  readonly bytes: number;
}

/** DelaySeconds is whole seconds: a fraction is rounded up, so a message never comes early. */
function delayOf(delaySeconds: number | undefined): { DelaySeconds?: number } {
  return delaySeconds !== undefined && delaySeconds > 0 ? { DelaySeconds: Math.ceil(delaySeconds) } : {};
}

/**
 * The messages in calls of at most 10 entries and 256 KiB of bodies, in order. A message larger
 * than that goes alone, for SQS to take or refuse. Entry ids are the messages' indexes: unique
 * within a call, as SQS requires.
 */
function batchesOf(messages: readonly QueuedMessage[]): Entry[][] {
  const batches: Entry[][] = [];
  let batch: Entry[] = [];
  let bytes = 0;
  messages.forEach(({ message, delaySeconds }, index) => {
    const body = encodeTaskMessage(message);
    const entry = {
      taskId: message.taskId,
      request: { Id: String(index), MessageBody: body, ...delayOf(delaySeconds) },
      bytes: Buffer.byteLength(body, 'utf8'),
    };
    if (batch.length === BATCH_MAX_ENTRIES || (batch.length > 0 && bytes + entry.bytes > BATCH_MAX_BYTES)) {
      batches.push(batch);
      batch = [];
      bytes = 0;
    }
    batch.push(entry);
    bytes += entry.bytes;
  });
  if (batch.length > 0) batches.push(batch);
  return batches;
}

