import { createSqsBatchHandler } from '../lib/aws/sqs-batch-handler.ts';
import { loadWorkerConfig } from '../lib/config.ts';
import { createTaskWorker } from '../lib/dependencies.ts';

const worker = createTaskWorker(loadWorkerConfig(process.env));

/** Task queue -> worker: runs each task and records its result. */
export const handler = createSqsBatchHandler((record) => worker.process(record.body));
