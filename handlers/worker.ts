import { createSqsBatchHandler, taskRecordProcessor } from '../lib/aws/sqs-batch-handler.ts';
import { loadWorkerConfig } from '../lib/config.ts';
import { createLogger, createTaskWorker, withLambdaContext } from '../lib/dependencies.ts';

const logger = createLogger();
const { worker, lease } = createTaskWorker(loadWorkerConfig(process.env), logger);

/** Task queue -> worker: runs each task and records its result. */
export const handler = withLambdaContext(logger, createSqsBatchHandler(taskRecordProcessor(worker, lease), { logger }));
