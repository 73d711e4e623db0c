import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { Context } from 'aws-lambda';

export type SqsBatchHandler = (event: SQSEvent, context?: Context) => Promise<SQSBatchResponse>;

/**
 * An SQS-triggered Lambda handler in which each record succeeds or fails alone
 * (`functionResponseType: ReportBatchItemFailures`): a record whose handler throws is reported in
 * `batchItemFailures`, comes back after the visibility timeout, and after the queue's
 * maxReceiveCount moves to the dead-letter queue. Records are processed concurrently.
 * https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html
 */
export function createSqsBatchHandler(processRecord: (record: SQSRecord) => Promise<unknown>): SqsBatchHandler {
  // A processor per call: it keeps the batch's records and failures on itself, so one shared across
  // concurrent calls in a process (serverless-offline --useInProcess) would mix their failures up.
  return (event, context) =>
    processPartialResponse(event, processRecord, new BatchProcessor(EventType.SQS), {
      ...(context && { context }),
      // Report even a fully failed batch as failures rather than throwing: the effect on SQS is the
      // same, and a thrown error would hide which records failed.
      throwOnFullBatchFailure: false,
    });
}
