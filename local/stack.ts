import type { ChildProcess } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { GetQueueAttributesCommand, GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, paginateScan } from '@aws-sdk/lib-dynamodb';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SQSEvent } from 'aws-lambda';
import { hashPassword } from '../lib/auth/passwords.ts';
import { DynamoDbTaskStore } from '../lib/aws/dynamodb-task-store.ts';
import { SqsTaskQueue } from '../lib/aws/sqs-task-queue.ts';
import { TaskSweeper } from '../lib/tasks/task-sweeper.ts';
import { startDynamoDbEmulator, startSqsEmulator } from './emulators.ts';
import { SqsEventSource, lambdaInvoker } from './event-source.ts';
import { lockDataDir } from './data-dir.ts';
import { startGateway } from './gateway.ts';
import { assertPortsFree, freePorts, isListening } from './ports.ts';
import type { Queues } from './provision.ts';
import { hasExited, startServerlessOffline } from './serverless-offline.ts';
import { LOCAL_CREDENTIALS, type LocalSettings, QUEUE_SETTINGS, REGION, RESOURCE_NAMES } from './settings.ts';
import { TtlReaper } from './ttl-reaper.ts';

export interface LocalStack {
  readonly queues: Queues;
  /**
   * Settles with a message when a part of the stack dies on its own after the start (serverless
   * offline exiting, say); never while the stack runs as it should. `npm start` then stops it all.
   */
  readonly failed: Promise<string>;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Start the event source pollers that feed the worker functions (`--no-workers` turns them off). */
  readonly workers: boolean;
  /** Start the embedded DynamoDB empty, deleting what the data folder held (`--fresh`). */
  readonly fresh?: boolean;
  readonly log: (line: string) => void;
  /** Hooks that see the calls the stack makes (the benchmark counts them); none by default. */
  readonly observe?: StackObserver;
  /** Aborting mid-start (Ctrl-C) stops what has started, then rejects: nothing is left running. */
  readonly signal?: AbortSignal;
  /**
   * The Serverless configuration to run, a file in the project's root folder (the only place
   * Serverless reads one from): serverless.yml unless given. The benchmark runs its own, with a
   * function of its own added (serverless.bench.mjs).
   */
  readonly serverlessConfig?: string;
}

export interface StackObserver {
  /** Every request an embedded emulator receives, by its X-Amz-Target (`AmazonSQS.SendMessage`…). */
  readonly onAwsRequest?: (action: string, request: IncomingMessage, response: ServerResponse) => void;
  /**
   * Every invocation an SQS event source makes, with the function's name, the batch's records and
   * its event; a function it returns is called when the invocation has ended.
   */
  readonly onInvoke?: (functionName: string, records: number, event: SQSEvent) => void | (() => void);
}

/**
 * Starts the whole stack on loopback: SQS and DynamoDB emulators in this process (unless endpoints of
 * running ones, such as LocalStack, are configured), the queues and the table, the API gateway
 * stand-in on the API port with `serverless offline` behind it (a child in its own process group,
 * which ends with this process however it dies) and, unless turned off, the pollers that hand
 * queued messages to the worker functions.
 *
 * The embedded DynamoDB keeps its tables in `<dataDir>/dynamodb`, so tasks outlive a restart; the
 * embedded SQS keeps nothing, so every task still open is queued again before the start ends.
 * Resolves once every part answers: the API's /ready (the store and the queue, through the gateway
 * and serverless-offline) and the Lambda port the pollers invoke through.
 */
export async function startLocalStack(settings: LocalSettings, options: StartOptions): Promise<LocalStack> {
  const started: { stop(): Promise<void> }[] = [];
  let stopping = false;
  const stop = async () => {
    stopping = true;
    for (const part of started.reverse()) await part.stop().catch((error) => options.log(`stop failed: ${error}`));
    started.length = 0;
  };
  const signal = options.signal ?? new AbortController().signal;
  try {
    await assertPortsFree([
      { port: settings.apiPort, setting: 'DOOZER_API_PORT' },
      { port: settings.lambdaPort, setting: 'DOOZER_LAMBDA_PORT' },
      ...(settings.embedded.sqs ? [{ port: settings.sqsPort, setting: 'DOOZER_SQS_PORT' }] : []),
      ...(settings.embedded.dynamodb ? [{ port: settings.dynamodbPort, setting: 'DOOZER_DYNAMODB_PORT' }] : []),
    ]);
    if (options.fresh && !settings.embedded.dynamodb) {
      throw new Error('--fresh empties the embedded DynamoDB; with DOOZER_DYNAMODB_ENDPOINT set, the data belongs to that service');
    }
    if (settings.embedded.dynamodb) {
      // Claimed before anything in it is touched: --fresh must never empty another stack's table.
      const lock = await lockDataDir(settings.dataDir);
      started.push({ stop: () => lock.release() });
      if (options.fresh) {
        await rm(join(settings.dataDir, 'dynamodb'), { recursive: true, force: true });
        options.log(`--fresh: starting with an empty table (${join(settings.dataDir, 'dynamodb')} deleted)`);
      }
    }
    // The public port is held from the start; serverless-offline listens on a port of its own behind it.
    const offlinePort = await freePortBesides([settings.apiPort, settings.lambdaPort, settings.sqsPort, settings.dynamodbPort]);
    const gateway = await startGateway({ port: settings.apiPort, upstreamPort: offlinePort });
    started.push({ stop: () => gateway.close() });

    // serverless-offline takes most of the start (loading the framework, bundling the functions):
    // it starts first and runs beside the emulators and the provisioning. With the embedded SQS the
    // queue's URL is known before the queue exists; with running services (LocalStack) it is what
    // CreateQueue answers, so serverless-offline waits for the provisioning there.
    const passwordHashes = Promise.all(
      [settings.devUser, ...settings.localUsers].map(async ({ username, password }) => ({
        username,
        passwordHash: await hashPassword(password),
        ...(settings.userLimits[username] && { limits: settings.userLimits[username] }),
      })),
    );
    const provisioned = (async () => {
      const onRequest = options.observe?.onAwsRequest;
      if (settings.embedded.dynamodb) {
        const path = join(settings.dataDir, 'dynamodb');
        await mkdir(path, { recursive: true });
        started.push(await startDynamoDbEmulator(settings.dynamodbPort, { onRequest, path }));
      }
      if (settings.embedded.sqs) started.push(await startSqsEmulator(settings.sqsPort, { onRequest }));
      signal.throwIfAborted();
      // Loaded here, not with this module: it reads serverless.yml with the Framework's reader (some
      // tens of milliseconds), better spent while serverless-offline starts than before.
      const { createQueues, createTaskTable } = await import('./provision.ts');
      const clients = createLocalClients(settings);
      const queues = await createQueues(clients.sqs, RESOURCE_NAMES, settings.visibilityTimeoutSeconds);
      await createTaskTable(clients.dynamodb, RESOURCE_NAMES.table, { log: options.log }).catch((error: Error) => {
        throw new Error(`the task table could not be opened in ${settings.dataDir}: ${error.message}`, { cause: error });
      });
      return { queues, clients };
    })();
    // Settled here so that a failure is not unhandled while serverless-offline starts; awaited below.
    provisioned.catch(() => {});
    const queueUrls = settings.embedded.sqs
      ? {
          taskQueueUrl: embeddedQueueUrl(settings, RESOURCE_NAMES.queue),
          webhookQueueUrl: embeddedQueueUrl(settings, RESOURCE_NAMES.webhookQueue),
          webhookDeadLetterQueueUrl: embeddedQueueUrl(settings, RESOURCE_NAMES.webhookDeadLetterQueue),
        }
      : (await provisioned).queues;
    const taskQueueUrl = queueUrls.taskQueueUrl;

    signal.throwIfAborted();
    const users = await passwordHashes;
    const offline = startServerlessOffline(settings, offlinePort, options.serverlessConfig, {
      DOOZER_QUEUE_URL: taskQueueUrl,
      DOOZER_WEBHOOK_QUEUE_URL: queueUrls.webhookQueueUrl,
      DOOZER_WEBHOOK_DEAD_LETTER_QUEUE_URL: queueUrls.webhookDeadLetterQueueUrl,
      DOOZER_SQS_ENDPOINT: settings.sqsEndpoint,
      DOOZER_DYNAMODB_ENDPOINT: settings.dynamodbEndpoint,
      DOOZER_JWT_SECRET: settings.jwtSecret,
      DOOZER_USERS: JSON.stringify(users),
      // serverless.yml hands it to the worker, whose heartbeat keeps long tasks' messages hidden.
      DOOZER_VISIBILITY_TIMEOUT_SECONDS: String(settings.visibilityTimeoutSeconds),
    });
    started.push(offline);
    // Watched from its spawn: a death at any point after it (while the workers start, say) is seen.
    const failed = new Promise<string>((resolve) => {
      offline.child.once('exit', (code, exitSignal) => {
        if (!stopping) resolve(`serverless-offline exited on its own (${exitSignal ?? `code ${code}`})`);
      });
    });
    const { queues, clients } = await provisioned;
    for (const queue of ['taskQueueUrl', 'webhookQueueUrl', 'webhookDeadLetterQueueUrl'] as const) {
      if (queues[queue] !== queueUrls[queue]) {
        throw new Error(`a queue is at ${queues[queue]}, not at ${queueUrls[queue]} as serverless-offline was told`);
      }
    }
    if (settings.embedded.sqs) {
      // The embedded SQS starts empty every time: whatever was queued before is gone, the tasks not.
      const requeued = await requeueOpenTasks(settings, clients);
      if (requeued > 0) options.log(`queued again ${requeued} open ${requeued === 1 ? 'task' : 'tasks'} kept from the last run`);
    }
    if (settings.embedded.dynamodb) {
      const reaper = new TtlReaper({ documents: clients.documents, tableName: RESOURCE_NAMES.table, log: options.log });
      reaper.start();
      started.push(reaper);
    }
    started.push({ stop: async () => clients.destroy() });
    await waitForApi(settings.apiUrl, { child: offline.child, signal });
    await waitForPort(settings.lambdaPort, { child: offline.child, signal });

    if (options.workers) started.push(await startWorkers(settings, options.log, options.observe));
    if (hasExited(offline.child)) throw new Error('serverless-offline exited while the stack started');
    return { queues, failed, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * Queues every open task of the local table once more (TaskSweeper.requeueNow). They are found by a
 * scan, not through the open-tasks index the sweeper reads: dynalite updates an item's index
 * entries before the item itself, so a kill -9 between the two can leave a task open that the index
 * no longer lists. A scan of a laptop's table is cheap; nothing on AWS needs this.
 */
async function requeueOpenTasks(settings: LocalSettings, clients: LocalClients): Promise<number> {
  const ids: string[] = [];
  for await (const page of paginateScan(
    { client: clients.documents },
    {
      TableName: RESOURCE_NAMES.table,
      ProjectionExpression: 'id',
      FilterExpression: 'begins_with(id, :task) AND #state IN (:pending, :retry)',
      ExpressionAttributeNames: { '#state': 'state' },
      ExpressionAttributeValues: { ':task': 'task_', ':pending': 'PENDING', ':retry': 'RETRY' },
      ConsistentRead: true,
    },
  )) {
    for (const item of page.Items ?? []) ids.push(item.id as string);
  }
  const store = new DynamoDbTaskStore({ client: clients.documents, tableName: RESOURCE_NAMES.table });
  const queue = new SqsTaskQueue({ client: clients.sqs, queueUrl: embeddedQueueUrl(settings, RESOURCE_NAMES.queue) });
  return new TaskSweeper({ store, queue, staleAfterSeconds: 0 }).requeueNow(ids);
}

/**
 * Starts the pollers against a running stack: the task queue feeds `worker`, the dead-letter queue
 * feeds `deadLetter`, the webhook queue feeds `notifier`. Used by `npm start` and, on its own, by `npm run workers`.
 */
export async function startWorkers(
  settings: LocalSettings,
  log: (line: string) => void,
  observe?: StackObserver,
): Promise<{ stop(): Promise<void> }> {
  const clients = createLocalClients(settings);
  const lambda = new LambdaClient({ region: REGION, endpoint: settings.lambdaEndpoint, credentials: LOCAL_CREDENTIALS });
  const sources = [
    // Up to 4 worker invocations at once; the dead letters are rare and go one batch at a time.
    // Invocations at once, as Lambda would run many: a few long tasks (a sleep, primes) hold theirs
    // for their whole run, and must not stop the quick ones queued behind them.
    { queue: RESOURCE_NAMES.queue, functionName: RESOURCE_NAMES.workerFunction, maxConcurrency: 16 },
    { queue: RESOURCE_NAMES.deadLetterQueue, functionName: RESOURCE_NAMES.deadLetterFunction, maxConcurrency: 1 },
    // Deliveries wait on receivers (up to 10 s each): a few invocations at once, as Lambda would.
    { queue: RESOURCE_NAMES.webhookQueue, functionName: RESOURCE_NAMES.notifierFunction, maxConcurrency: 4 },
  ];
  const mappings = await Promise.all(
    sources.map(async ({ queue, functionName, maxConcurrency }) => {
      const { QueueUrl } = await clients.sqs.send(new GetQueueUrlCommand({ QueueName: queue }));
      const { Attributes } = await clients.sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: QueueUrl!, AttributeNames: ['QueueArn'] }),
      );
      return new SqsEventSource({
        sqs: clients.sqs,
        queueUrl: QueueUrl!,
        queueArn: Attributes!.QueueArn!,
        region: REGION,
        invoke: lambdaInvoker(lambda, functionName),
        // As serverless.yml's event source does: from the tasks' limits.
        batchSize: functionName === RESOURCE_NAMES.workerFunction ? QUEUE_SETTINGS.batchSize : 10,
        maxConcurrency,
        log,
        onInvoke: (records, event) => observe?.onInvoke?.(functionName, records, event),
      });
    }),
  );
  for (const mapping of mappings) mapping.start();
  return {
    stop: async () => {
      await Promise.all(mappings.map((mapping) => mapping.stop()));
      lambda.destroy();
      clients.sqs.destroy();
    },
  };
}

/**
 * The URL fauxqs gives a queue: `http://sqs.<region>.localhost:<port>/000000000000/<name>` (its
 * default host is `localhost`). The clients reach it through their explicit endpoint, so the name
 * need not resolve. startLocalStack checks it against what CreateQueue answers.
 */
function embeddedQueueUrl(settings: LocalSettings, queueName: string): string {
  return `http://sqs.${REGION}.localhost:${settings.sqsPort}/000000000000/${queueName}`;
}

interface LocalClients {
  readonly sqs: SQSClient;
  readonly dynamodb: DynamoDBClient;
  readonly documents: DynamoDBDocumentClient;
  destroy(): void;
}

function createLocalClients(settings: LocalSettings): LocalClients {
  const common = { region: REGION, credentials: LOCAL_CREDENTIALS };
  const sqs = new SQSClient({ ...common, endpoint: settings.sqsEndpoint });
  const dynamodb = new DynamoDBClient({ ...common, endpoint: settings.dynamodbEndpoint });
  return {
    sqs,
    dynamodb,
    documents: DynamoDBDocumentClient.from(dynamodb, { marshallOptions: { removeUndefinedValues: true } }),
    destroy: () => {
      sqs.destroy();
      dynamodb.destroy();
    },
  };
}

/**
 * Resolves once the API answers `path` with a 2xx: by default /ready, which reaches the store and
 * the queue through the gateway and serverless-offline. The worker functions run inside
 * serverless-offline, so this is also how the workers know the functions are there. Fails early if
 * `child` exits.
 */
export async function waitForApi(
  apiUrl: string,
  { path = '/ready', timeoutMs = 90_000, child, signal }: { path?: string; timeoutMs?: number; child?: ChildProcess; signal?: AbortSignal } = {},
): Promise<void> {
  const answers = async () => {
    let body: unknown;
    try {
      const response = await fetch(`${apiUrl}${path}`, { signal: AbortSignal.timeout(2_000) });
      if (!response.ok) return false;
      body = await response.json().catch(() => undefined);
    } catch {
      return false;
    }
    // serverless-offline answers a function that failed to start (a ConfigError at cold start) with
    // a 200 of its own, the error in the body: that stack is not running, and never will be.
    const failed = (body as { errorMessage?: unknown } | undefined)?.errorMessage;
    if (typeof failed === 'string') throw new Error(`the api function failed to start: ${failed}`);
    return true;
  };
  await waitUntil(answers, `the API did not answer ${apiUrl}${path}`, { timeoutMs, child, signal });
}

/** Resolves once something accepts connections on the loopback `port` (serverless-offline's Lambda API). */
async function waitForPort(port: number, options: { child?: ChildProcess; signal?: AbortSignal } = {}): Promise<void> {
  await waitUntil(() => isListening(port), `nothing answered on port ${port} (DOOZER_LAMBDA_PORT)`, { timeoutMs: 30_000, ...options });
}

/** Polls `check` every 100 ms until it holds; fails early if `child` exits, and with `failure` at the deadline. */
async function waitUntil(
  check: () => Promise<boolean>,
  failure: string,
  { timeoutMs, child, signal }: { timeoutMs: number; child?: ChildProcess; signal?: AbortSignal },
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    signal?.throwIfAborted();
    if (child && hasExited(child)) throw new Error(`serverless offline exited (${child.signalCode ?? `code ${child.exitCode}`})`);
    if (await check()) return;
    await sleep(100);
  }
  throw new Error(`${failure} within ${timeoutMs / 1000} s`);
}

/**
 * A free loopback port that is none of `taken`: the stack's other ports are chosen before their
 * emulators bind them, so the system could hand one of them out again in between.
 */
async function freePortBesides(taken: readonly number[]): Promise<number> {
  for (;;) {
    const [port] = (await freePorts(1)) as [number];
    if (!taken.includes(port)) return port;
  }
}

/** Ctrl-C (SIGINT), SIGTERM or a closed terminal (SIGHUP) runs `stop` once, then exits 0. */
export function stopOnSignals(stop: () => Promise<void>): void {
  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      void stop().then(() => process.exit(0));
    });
  }
}
