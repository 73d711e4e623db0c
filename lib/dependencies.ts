import { Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { availableParallelism } from 'node:os';
import { LoginThrottle } from './auth/login-throttle.ts';
import { TokenIssuer } from './auth/tokens.ts';
import { UserDirectory } from './auth/users.ts';
import { sourceIpOf } from './aws/api-gateway.ts';
import { createDynamoDbDocumentClient, createSqsClient } from './aws/clients.ts';
import { DynamoDbIdempotencyStore } from './aws/dynamodb-idempotency-store.ts';
import { DynamoDbLoginAttempts } from './aws/dynamodb-login-attempts.ts';
import { DynamoDbTaskStore } from './aws/dynamodb-task-store.ts';
import { DynamoDbWebhookDeliveries } from './aws/dynamodb-webhook-deliveries.ts';
import { SqsTaskQueue } from './aws/sqs-task-queue.ts';
import { DynamoDbOpenTaskSlots } from './aws/dynamodb-open-task-slots.ts';
import { DynamoDbRequestRates } from './aws/dynamodb-request-rates.ts';
import { SqsWebhookQueue } from './aws/sqs-webhook-queues.ts';
import { UserProfiles } from './auth/user-profiles.ts';
import type { ApiConfig, SweeperConfig, WorkerConfig } from './config.ts';
import { TaskEndings } from './tasks/task-endings.ts';
import type { AppDependencies } from './http/app.ts';
import { scopedLogger } from './logger.ts';
import { ListCursors } from './tasks/list-cursor.ts';
import { TaskService } from './tasks/task-service.ts';
import { TaskSweeper } from './tasks/task-sweeper.ts';
import { TaskWorker } from './tasks/task-worker.ts';
import type { MessageLease } from './ports.ts';
import { TaskCatalog } from './tasks/task-catalog.ts';
import { TASKS } from '../tasks/index.ts';

/** The tasks of tasks/index.ts, checked and combined once per process. */
let catalog: TaskCatalog | undefined;
export function taskCatalog(): TaskCatalog {
  catalog ??= new TaskCatalog(TASKS);
  return catalog;
}

/**
 * Composition: the one place that builds AWS clients and adapters from configuration. Handlers
 * call it once at cold start; tests build the same objects by hand with their own clients.
 */
export function createLogger(): PowertoolsLogger {
  return new PowertoolsLogger({ serviceName: 'doozer' });
}

/**
 * `handler`, with each invocation's Lambda context on every line `logger` writes (Powertools'
 * `function_request_id`, `cold_start`, `function_name`…). Never the event: it holds the request's
 * headers and body (tokens, passwords).
 */
export function withLambdaContext<E, R>(
  logger: PowertoolsLogger,
  handler: (event: E, context: Context) => R,
): (event: E, context: Context) => R {
  return (event, context) => {
    logger.addContext(context);
    return handler(event, context);
  };
}

/**
 * The API's objects. Every part writes through one `scopedLogger`, so each line carries the keys of
 * the request it belongs to (lib/http/request-logging.ts).
 */
export function createApiDependencies(config: ApiConfig, base = createLogger()): AppDependencies {
  const logger = scopedLogger(base);
  const documents = createDynamoDbDocumentClient(config.aws);
  const store = new DynamoDbTaskStore({ client: documents, tableName: config.aws.tableName });
  const sqs = createSqsClient(config.aws);
  const queue = new SqsTaskQueue({ client: sqs, queueUrl: config.queueUrl });
  const callbackPolicy = { allowLoopback: config.webhooks.allowLoopback };
  const profiles = new UserProfiles(config.auth.users, { defaultLimits: config.defaultLimits, stage: config.stage, callbackPolicy });
  const slots = new DynamoDbOpenTaskSlots({ client: documents, tableName: config.aws.tableName });
  const notices = config.webhooks.queueUrl === undefined ? undefined : new SqsWebhookQueue({ client: sqs, queueUrl: config.webhooks.queueUrl });
  return {
    catalog: taskCatalog(),
    profiles,
    rates: new DynamoDbRequestRates({ client: documents, tableName: config.aws.tableName }),
    callbackPolicy,
    tasks: new TaskService({
      store,
      queue,
      idempotency: new DynamoDbIdempotencyStore({ client: documents, tableName: config.aws.tableName }),
      taskTtlSeconds: config.taskTtlSeconds,
      runLater: config.runLater,
      // Keyed by the JWT secret: every instance of the API reads the cursors the others gave.
      cursors: new ListCursors(config.auth.secret),
      schedule: config.waitSchedule,
      logger,
      slots,
      openTaskLimit: (owner) => profiles.limitsOf(owner).openTasks,
      endings: new TaskEndings({ slots, notices, logger }),
    }),
    // Password hashing may take all cores but one: the rest of the API keeps a core however many
    // logins arrive. On Lambda an instance serves one request at a time, so it never bites there.
    users: new UserDirectory(config.auth.users, { maxConcurrentChecks: Math.max(1, availableParallelism() - 1) }),
    loginThrottle: new LoginThrottle({ store: new DynamoDbLoginAttempts({ client: documents, tableName: config.aws.tableName }) }),
    tokens: new TokenIssuer(config.auth),
    clientAddress: sourceIpOf,
    readiness: [
      { name: 'store', check: () => store.ping() },
      { name: 'queue', check: () => queue.ping() },
    ],
    logger,
  };
}

/**
 * The worker, and (when the config names the task queue) the lease of a received message by its
 * receipt handle, for the heartbeat of long tasks. Its lines carry the keys of the record they are
 * about (lib/aws/sqs-batch-handler.ts).
 */
export function createTaskWorker(
  config: WorkerConfig,
  base = createLogger(),
): { worker: TaskWorker; lease?: (receiptHandle: string) => MessageLease } {
  const logger = scopedLogger(base);
  const documents = createDynamoDbDocumentClient(config.aws);
  const store = new DynamoDbTaskStore({ client: documents, tableName: config.aws.tableName });
  const sqs = createSqsClient(config.aws);
  const notices = config.webhookQueueUrl === undefined ? undefined : new SqsWebhookQueue({ client: sqs, queueUrl: config.webhookQueueUrl });
  const worker = new TaskWorker({
    store,
    catalog: taskCatalog(),
    visibilityTimeoutSeconds: config.queue?.visibilityTimeoutSeconds,
    logger,
    endings: new TaskEndings({ slots: new DynamoDbOpenTaskSlots({ client: documents, tableName: config.aws.tableName }), notices, logger }),
  });
  if (!config.queue) return { worker };
  const queue = new SqsTaskQueue({ client: sqs, queueUrl: config.queue.url });
  return { worker, lease: (receiptHandle) => queue.lease(receiptHandle) };
}

export function createTaskSweeper(config: SweeperConfig, base = createLogger()): TaskSweeper {
  const logger = scopedLogger(base);
  const documents = createDynamoDbDocumentClient(config.aws);
  const sqs = createSqsClient(config.aws);
  return new TaskSweeper({
    store: new DynamoDbTaskStore({ client: documents, tableName: config.aws.tableName }),
    queue: new SqsTaskQueue({ client: sqs, queueUrl: config.queueUrl }),
    staleAfterSeconds: config.staleAfterSeconds,
    scheduleAheadSeconds: config.scheduleAheadSeconds,
    ...(config.webhookQueueUrl !== undefined && {
      webhooks: {
        deliveries: new DynamoDbWebhookDeliveries({ client: documents, tableName: config.aws.tableName }),
        notices: new SqsWebhookQueue({ client: sqs, queueUrl: config.webhookQueueUrl }),
      },
    }),
    logger,
  });
}
