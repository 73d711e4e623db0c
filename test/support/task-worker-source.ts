import type { SQSClient } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { createSqsBatchHandler, taskRecordProcessor } from '../../lib/aws/sqs-batch-handler.ts';
import type { TaskStore } from '../../lib/ports.ts';
import { TaskWorker } from '../../lib/tasks/task-worker.ts';
import { SqsEventSource } from '../../local/event-source.ts';
import type { Queues } from '../../local/provision.ts';
import { REGION } from '../../local/settings.ts';
import { catalog } from './catalog.ts';

export interface TaskWorkerSourceOptions {
  readonly sqs: SQSClient;
  readonly queues: Queues;
  readonly store: TaskStore;
  readonly maxConcurrency?: number;
  /** Sees every invocation's response, e.g. to count failed records. */
  readonly onResponse?: (response: SQSBatchResponse, event: SQSEvent) => void;
}

/**
 * A started worker on the task queue, as the local stack runs it but in-process: the event source,
 * the batch handler and TaskWorker over `store`. Stop it with `stop()`.
 */
export function startTaskWorkerSource({ sqs, queues, store, maxConcurrency = 1, onResponse }: TaskWorkerSourceOptions): SqsEventSource {
  const worker = new TaskWorker({ catalog, store });
  const handler = createSqsBatchHandler(taskRecordProcessor(worker));
  const source = new SqsEventSource({
    sqs,
    queueUrl: queues.taskQueueUrl,
    queueArn: queues.taskQueueArn,
    region: REGION,
    batchSize: 10,
    maxConcurrency,
    invoke: async (event) => {
      const response = await handler(event);
      onResponse?.(response, event);
      return response;
    },
  });
  source.start();
  return source;
}
