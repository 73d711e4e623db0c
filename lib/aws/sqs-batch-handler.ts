import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { type Logger, scopedLogger, withLogKeys } from '../logger.ts';
import type { MessageLease } from '../ports.ts';
import type { ProcessOutcome, TaskWorker } from '../tasks/task-worker.ts';

export type SqsBatchHandler = (event: SQSEvent, context?: Context) => Promise<SQSBatchResponse>;

export interface SqsBatchHandlerOptions {
  /** Where a failed record is reported; every line written while a record runs carries its keys. */
  readonly logger?: Logger;
}

/** Longest task id taken from a body for the logs: ours are 41 characters; a body is anyone's. */
const MAX_LOGGED_TASK_ID = 64;

/**
 * An SQS-triggered Lambda handler in which each record succeeds or fails alone
 * (`functionResponseType: ReportBatchItemFailures`): a record whose handler throws is reported in
 * `batchItemFailures`, comes back after the visibility timeout, and after the queue's
 * maxReceiveCount moves to the dead-letter queue. Records are processed concurrently.
 * https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html
 *
 * Each record runs in its own unit of work for the logs (`withLogKeys`): every line written through a
 * `scopedLogger` while it runs carries `messageId`, `taskId` (when the body names one) and the
 * invocation's `function_request_id`, and nothing of another record, even a concurrent one.
 */
export function createSqsBatchHandler(
  processRecord: (record: SQSRecord) => Promise<unknown>,
  options: SqsBatchHandlerOptions = {},
): SqsBatchHandler {
  const logger = options.logger && scopedLogger(options.logger);
  // A processor per call: it keeps the batch's records and failures on itself, so one shared across
  // concurrent calls in a process (serverless-offline --useInProcess) would mix their failures up.
  return (event, context) => {
    const runRecord = (record: SQSRecord) =>
      withLogKeys(
        { function_request_id: context?.awsRequestId, messageId: record.messageId, taskId: taskIdOf(record.body) },
        async () => {
          try {
            return await processRecord(record);
          } catch (error) {
            logger?.warn('record failed; SQS will deliver it again', {
              receiveCount: receiveCountOf(record),
              error,
            });
            throw error;
          }
        },
      );
    return processPartialResponse(event, runRecord, new BatchProcessor(EventType.SQS), {
      ...(context && { context }),
      // Report even a fully failed batch as failures rather than throwing: the effect on SQS is the
      // same, and a thrown error would hide which records failed.
      throwOnFullBatchFailure: false,
    });
  };
}

/** How many times SQS has delivered this record (ApproximateReceiveCount), 1 when it does not say. */
function receiveCountOf(record: SQSRecord): number {
  return Number(record.attributes?.ApproximateReceiveCount) || 1;
}

/**
 * Hands a task-queue record to the worker: its body, how often SQS has delivered it, and (given
 * `lease`) the worker's hold on it by its receipt handle, for the heartbeat of long tasks.
 */
export function taskRecordProcessor(
  worker: Pick<TaskWorker, 'process'>,
  lease?: (receiptHandle: string) => MessageLease,
): (record: SQSRecord) => Promise<ProcessOutcome> {
  return (record) =>
    worker.process(record.body, {
      receiveCount: receiveCountOf(record),
      ...(lease && record.receiptHandle && { lease: lease(record.receiptHandle) }),
    });
}

/**
 * The task id a body names, for the logs only: read defensively, since a body that is not a task
 * message must still be processed (and fail) as one record rather than break the batch.
 */
function taskIdOf(body: string): string | undefined {
  try {
    const taskId = (JSON.parse(body) as { taskId?: unknown } | null)?.taskId;
    return typeof taskId === 'string' && taskId !== '' ? taskId.slice(0, MAX_LOGGED_TASK_ID) : undefined;
  } catch {
    return undefined;
  }
}
