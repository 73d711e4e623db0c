import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import {
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { setTimeout as sleep } from 'node:timers/promises';

export interface EventSourceMappingOptions {
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly region: string;
  /** Runs the function on one batch; a throw is a failed invocation. */
  readonly invoke: (event: SQSEvent) => Promise<SQSBatchResponse | undefined>;
  readonly batchSize: number;
  /**
   * Invocations at once, like an event source mapping's maximum concurrency. There is only ever one
   * long poll waiting: a second one would be woken by every send too (fauxqs wakes all waiting
   * receives) and come back empty, one wasted ReceiveMessage per message (BENCHMARKS.md).
   */
  readonly maxConcurrency: number;
  readonly log?: (line: string) => void;
  /**
   * Called before each invocation with its number of records and its event (the benchmark counts
   * invocations with it); a function it returns is called when the invocation has ended (`--trace`).
   */
  readonly onInvoke?: (records: number, event: SQSEvent) => void | (() => void);
}

/**
 * The local stand-in for Lambda's SQS event source mapping, with its batch semantics: long-poll the
 * queue, invoke the function (through serverless-offline's Lambda API, so it runs the same handler
 * code as on AWS) with an SQS event of up to `batchSize` records, delete the records that succeeded,
 * and leave the ones listed in `batchItemFailures` (or all, if the invocation failed) to come back
 * after the visibility timeout.
 *
 * Why not serverless-offline-sqs: it waits to fill a batch (5-10 s for a lone message with a batch
 * size above 1) and uses the AWS SDK v2. Here a send wakes a waiting long poll, so a message is
 * handed over within milliseconds.
 */
export class SqsEventSource {
  readonly #options: EventSourceMappingOptions;
  readonly #abort = new AbortController();
  #loop: Promise<void> | undefined;
  readonly #inFlight = new Set<Promise<void>>();

  constructor(options: EventSourceMappingOptions) {
    if (!Number.isInteger(options.batchSize) || options.batchSize < 1 || options.batchSize > 10) {
      throw new RangeError(`batchSize must be 1 to 10 (SQS receives at most 10 messages), got ${options.batchSize}`);
    }
    if (!Number.isInteger(options.maxConcurrency) || options.maxConcurrency < 1) {
      throw new RangeError(`maxConcurrency must be a positive integer, got ${options.maxConcurrency}`);
    }
    this.#options = options;
  }

  start(): void {
    this.#loop ??= this.#poll();
  }

  /** Stops polling and waits for the invocations in flight (and their deletes) to end. */
  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#loop;
    await Promise.all(this.#inFlight);
    this.#loop = undefined;
  }

  /**
   * One receive loop: a batch that arrives is handed to an invocation that runs on its own, and the
   * loop polls again at once, unless `maxConcurrency` invocations are running, in which case it
   * waits for one of them to end first.
   */
  async #poll(): Promise<void> {
    const { sqs, queueUrl, batchSize, maxConcurrency } = this.#options;
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      if (this.#inFlight.size >= maxConcurrency) {
        await Promise.race(this.#inFlight);
        continue;
      }
      let messages: Message[];
      try {
        const output = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl,
            MaxNumberOfMessages: batchSize,
            WaitTimeSeconds: 20,
            MessageSystemAttributeNames: ['All'],
            MessageAttributeNames: ['All'],
          }),
          { abortSignal: signal },
        );
        messages = output.Messages ?? [];
      } catch (error) {
        if (signal.aborted) return;
        this.#log(`receive from ${queueUrl} failed: ${(error as Error).message}; retrying in 1 s`);
        await sleep(1_000, undefined, { signal }).catch(() => {});
        continue;
      }
      if (messages.length === 0) continue;
      const delivery = this.#deliver(messages).finally(() => this.#inFlight.delete(delivery));
      this.#inFlight.add(delivery);
    }
  }

  async #deliver(messages: Message[]): Promise<void> {
    const { sqs, queueUrl } = this.#options;
    const failed = new Set<string>();
    let ended: (() => void) | void = undefined;
    try {
      const event = this.#toEvent(messages);
      ended = this.#options.onInvoke?.(messages.length, event);
      const response = await this.#options.invoke(event);
      for (const failure of response?.batchItemFailures ?? []) failed.add(failure.itemIdentifier);
    } catch (error) {
      // As on AWS: a failed invocation leaves the whole batch to come back after the visibility timeout.
      this.#log(`invocation failed: ${(error as Error).message}`);
      for (const message of messages) failed.add(message.MessageId!);
    } finally {
      if (ended) ended();
    }
    const done = messages.filter((message) => !failed.has(message.MessageId!));
    if (done.length === 0) return;
    try {
      const output = await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: done.map((message, index) => ({ Id: String(index), ReceiptHandle: message.ReceiptHandle! })),
        }),
      );
      for (const failure of output.Failed ?? []) this.#log(`deleting a processed message failed: ${failure.Message}`);
    } catch (error) {
      // Undeleted messages come back and are skipped by the worker's conditional writes.
      this.#log(`deleting processed messages failed: ${(error as Error).message}`);
    }
  }

  #toEvent(messages: Message[]): SQSEvent {
    const { queueArn, region } = this.#options;
    return {
      Records: messages.map(
        (message): SQSRecord => ({
          messageId: message.MessageId!,
          receiptHandle: message.ReceiptHandle!,
          body: message.Body ?? '',
          attributes: message.Attributes as unknown as SQSRecord['attributes'],
          messageAttributes: Object.fromEntries(
            Object.entries(message.MessageAttributes ?? {}).map(([name, value]) => [
              name,
              {
                dataType: value.DataType ?? 'String',
                ...(value.StringValue !== undefined && { stringValue: value.StringValue }),
                ...(value.BinaryValue !== undefined && { binaryValue: Buffer.from(value.BinaryValue).toString('base64') }),
              },
            ]),
          ),
          md5OfBody: message.MD5OfBody ?? '',
          eventSource: 'aws:sqs',
          eventSourceARN: queueArn,
          awsRegion: region,
        }),
      ),
    };
  }

  #log(line: string): void {
    this.#options.log?.(line);
  }
}

/**
 * Invokes a function through a Lambda API (serverless-offline's, locally), so it runs exactly as
 * deployed: same bundle, same environment, same handler. A function error becomes a thrown Error.
 */
export async function invokeFunction(lambda: LambdaClient, functionName: string, payload: unknown): Promise<unknown> {
  const output = await lambda.send(new InvokeCommand({ FunctionName: functionName, Payload: JSON.stringify(payload) }));
  const text = Buffer.from(output.Payload ?? []).toString('utf8');
  if (output.FunctionError) throw new Error(`${functionName} failed: ${text.slice(0, 500)}`);
  return text === '' || text === 'null' ? undefined : JSON.parse(text);
}

/** An `invoke` for SqsEventSource that runs the function through a Lambda API. */
export function lambdaInvoker(lambda: LambdaClient, functionName: string) {
  return async (event: SQSEvent) => (await invokeFunction(lambda, functionName, event)) as SQSBatchResponse | undefined;
}
