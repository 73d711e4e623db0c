import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { SQSHandler, SQSRecord } from 'aws-lambda';
import { loadWorkerConfig } from '../lib/config.ts';
import { createTaskWorker } from '../lib/dependencies.ts';

const worker = createTaskWorker(loadWorkerConfig(process.env));
const processor = new BatchProcessor(EventType.SQS);

/**
 * Task queue -> worker. Each record succeeds or fails alone (ReportBatchItemFailures): failed ones
 * are delivered again after the visibility timeout, and after maxReceiveCount go to the DLQ.
 */
export const handler: SQSHandler = (event, context) =>
  processPartialResponse(event, (record: SQSRecord) => worker.process(record.body), processor, {
    context,
    throwOnFullBatchFailure: false,
  });
