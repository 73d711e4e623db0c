import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { GetQueueAttributesCommand, GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SQSEvent } from 'aws-lambda';
import { hashPassword } from '../lib/auth/passwords.ts';
import { startDynamoDbEmulator, startSqsEmulator } from './emulators.ts';
import { SqsEventSource, lambdaInvoker } from './event-source.ts';
import { type Queues, createQueues, createTaskTable } from './provision.ts';
import { LOCAL_CREDENTIALS, type LocalSettings, REGION, RESOURCE_NAMES, STAGE } from './settings.ts';

const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));
const SERVERLESS_BIN = fileURLToPath(new URL('../node_modules/serverless/bin/serverless.js', import.meta.url));

export interface LocalStack {
  readonly queues: Queues;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Start the event source pollers that feed the worker functions (`--no-workers` turns them off). */
  readonly workers: boolean;
  readonly log: (line: string) => void;
  /** Hooks that see the calls the stack makes (the benchmark counts them); none by default. */
  readonly observe?: StackObserver;
  /** Aborting mid-start (Ctrl-C) stops what has started, then rejects: nothing is left running. */
  readonly signal?: AbortSignal;
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
 * running ones, such as LocalStack, are configured), the queues and the table, `serverless offline` (a child in its own process group, so it can be stopped with all its
 * children) and, unless turned off, the pollers that hand queued messages to the worker functions.
 */
export async function startLocalStack(settings: LocalSettings, options: StartOptions): Promise<LocalStack> {
  const started: { stop(): Promise<void> }[] = [];
  const stop = async () => {
    for (const part of started.reverse()) await part.stop().catch((error) => options.log(`stop failed: ${error}`));
  };
  const signal = options.signal ?? new AbortController().signal;
  try {
    // serverless-offline takes most of the start (loading the framework, bundling the functions):
    // it starts first and runs beside the emulators and the provisioning. With the embedded SQS the
    // queue's URL is known before the queue exists; with running services (LocalStack) it is what
    // CreateQueue answers, so serverless-offline waits for the provisioning there.
    const passwordHash = hashPassword(settings.devUser.password);
    const provisioned = (async () => {
      const onRequest = options.observe?.onAwsRequest;
      if (settings.embedded.dynamodb) started.push(await startDynamoDbEmulator(settings.dynamodbPort, { onRequest }));
      if (settings.embedded.sqs) started.push(await startSqsEmulator(settings.sqsPort, { onRequest }));
      signal.throwIfAborted();
      const clients = createLocalClients(settings);
      const queues = await createQueues(clients.sqs, RESOURCE_NAMES, settings.visibilityTimeoutSeconds);
      await createTaskTable(clients.dynamodb, RESOURCE_NAMES.table);
      return queues;
    })();
    // Settled here so that a failure is not unhandled while serverless-offline starts; awaited below.
    provisioned.catch(() => {});
    const taskQueueUrl = settings.embedded.sqs ? embeddedQueueUrl(settings, RESOURCE_NAMES.queue) : (await provisioned).taskQueueUrl;

    signal.throwIfAborted();
    const users = [{ username: settings.devUser.username, passwordHash: await passwordHash }];
    const offline = startServerlessOffline(settings, {
      DOOZER_QUEUE_URL: taskQueueUrl,
      DOOZER_SQS_ENDPOINT: settings.sqsEndpoint,
      DOOZER_DYNAMODB_ENDPOINT: settings.dynamodbEndpoint,
      DOOZER_JWT_SECRET: settings.jwtSecret,
      DOOZER_USERS: JSON.stringify(users),
    });
    started.push(offline);
    const queues = await provisioned;
    if (queues.taskQueueUrl !== taskQueueUrl) {
      throw new Error(`the task queue is at ${queues.taskQueueUrl}, not at ${taskQueueUrl} as serverless-offline was told`);
    }
    await waitForHealth(settings.apiUrl, { child: offline.child, signal });

    if (options.workers) started.push(await startWorkers(settings, options.log, options.observe));
    return { queues, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * Starts the pollers against a running stack: the task queue feeds `worker`, the dead-letter queue
 * feeds `deadLetter`. Used by `npm start` and, on its own, by `npm run workers`.
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
    { queue: RESOURCE_NAMES.queue, functionName: RESOURCE_NAMES.workerFunction, maxConcurrency: 4 },
    { queue: RESOURCE_NAMES.deadLetterQueue, functionName: RESOURCE_NAMES.deadLetterFunction, maxConcurrency: 1 },
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
        batchSize: 10,
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

function createLocalClients(settings: LocalSettings) {
  const common = { region: REGION, credentials: LOCAL_CREDENTIALS };
  return {
    sqs: new SQSClient({ ...common, endpoint: settings.sqsEndpoint }),
    dynamodb: new DynamoDBClient({ ...common, endpoint: settings.dynamodbEndpoint }),
  };
}

function startServerlessOffline(settings: LocalSettings, env: Record<string, string>) {
  const child = spawn(
    process.execPath,
    [
      SERVERLESS_BIN,
      'offline',
      'start',
      '--stage',
      STAGE,
      '--host',
      settings.host,
      '--httpPort',
      String(settings.apiPort),
      '--lambdaPort',
      String(settings.lambdaPort),
      // Functions on the main thread rather than worker threads: measured warm worker invocations
      // fell from 30-40 ms to 12-20 ms on this 2-core machine.
      '--useInProcess',
    ],
    {
      cwd: PROJECT_ROOT,
      env: {
        ...process.env,
        ...env,
        AWS_REGION: REGION,
        AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      },
      stdio: ['ignore', 'inherit', 'inherit'],
      detached: true,
    },
  );
  return { child, stop: () => stopProcessGroup(child) };
}

/** Stops a detached child and everything it started: SIGTERM to the group, SIGKILL after 5 s. */
async function stopProcessGroup(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = once(child, 'exit');
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // Already gone.
    }
  };
  signalGroup('SIGTERM');
  const timer = setTimeout(() => signalGroup('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
  signalGroup('SIGKILL'); // Anything of the group that outlived its leader.
}

/**
 * Resolves once the API answers /health. The worker functions run inside serverless-offline, so
 * this is also how the workers know the functions are there. Fails early if `child` exits.
 */
export async function waitForHealth(
  apiUrl: string,
  { timeoutMs = 90_000, child, signal }: { timeoutMs?: number; child?: ChildProcess; signal?: AbortSignal } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    signal?.throwIfAborted();
    if (child && child.exitCode !== null) throw new Error(`serverless offline exited with code ${child.exitCode}`);
    const healthy = await fetch(`${apiUrl}/health`, { signal: AbortSignal.timeout(2_000) }).then(
      (response) => response.ok,
      () => false,
    );
    if (healthy) return;
    await sleep(100);
  }
  throw new Error(`the API did not answer ${apiUrl}/health within ${timeoutMs / 1000} s`);
}

/** Ctrl-C (SIGINT) or SIGTERM runs `stop` once, then exits 0. */
export function stopOnSignals(stop: () => Promise<void>): void {
  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      void stop().then(() => process.exit(0));
    });
  }
}
