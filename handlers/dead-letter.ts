import { createSqsBatchHandler } from '../lib/aws/sqs-batch-handler.ts';
import { loadWorkerConfig } from '../lib/config.ts';
import { createLogger, createTaskWorker, withLambdaContext } from '../lib/dependencies.ts';

const logger = createLogger();
const { worker } = createTaskWorker(loadWorkerConfig(process.env), logger);

/**
 * Dead-letter queue -> FAILURE. A message lands here after the task queue's maxReceiveCount; its
 * task ends in FAILURE (`retries_exhausted`) so no caller waits on it forever. If the store is still
 * down, the record fails and is retried from this queue.
 */
export const handler = withLambdaContext(logger, createSqsBatchHandler((record) => worker.failExhausted(record.body), { logger }));
