import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { SQSHandler, SQSRecord } from 'aws-lambda';
import { loadWorkerConfig } from '../lib/config.ts';
import { createTaskWorker } from '../lib/dependencies.ts';

const worker = createTaskWorker(loadWorkerConfig(process.env));
const processor = new BatchProcessor(EventType.SQS);

/**
 * Dead-letter queue -> FAILURE. A message lands here after the task queue's maxReceiveCount; its
 * task ends in FAILURE (`retries_exhausted`) so no caller waits on it forever. If the store is still
 * down, the record fails and is retried from this queue.
 */
export const handler: SQSHandler = (event, context) =>
  processPartialResponse(event, (record: SQSRecord) => worker.failExhausted(record.body), processor, {
    context,
    throwOnFullBatchFailure: false,
  });
