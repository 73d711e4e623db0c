import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, afterEach, beforeAll, beforeEach, vi } from 'vitest';
import { createDynamoDbDocumentClient } from '../../lib/aws/clients.ts';
import { SQSClient } from '@aws-sdk/client-sqs';
import { type Emulator, startDynamoDbEmulator, startSqsEmulator } from '../../local/emulators.ts';
import { type Queues, createQueues, createTaskTable } from '../../local/provision.ts';
import { LOCAL_CREDENTIALS, REGION } from '../../local/settings.ts';

export interface TestEmulators {
  readonly sqsEndpoint: string;
  readonly dynamodbEndpoint: string;
  readonly sqs: SQSClient;
  readonly dynamodb: DynamoDBClient;
  readonly documents: DynamoDBDocumentClient;
  readonly tableName: string;
  readonly queues: Queues;
  stop(): Promise<void>;
}

/**
 * Real emulators on free loopback ports, provisioned as the local stack provisions them, with a
 * fresh queue and table per call so tests never see each other's messages.
 */
export async function startTestEmulators(options: { visibilityTimeoutSeconds?: number } = {}): Promise<TestEmulators> {
  const emulators: Emulator[] = [await startDynamoDbEmulator(0), await startSqsEmulator(0)];
  const [dynamo, queue] = emulators as [Emulator, Emulator];
  const common = { region: REGION, credentials: LOCAL_CREDENTIALS };
  const sqs = new SQSClient({ ...common, endpoint: queue.endpoint });
  const dynamodb = new DynamoDBClient({ ...common, endpoint: dynamo.endpoint });
  const suffix = Math.random().toString(36).slice(2, 8);
  const tableName = `tasks-${suffix}`;
  const queues = await createQueues(
    sqs,
    { queue: `tasks-${suffix}`, deadLetterQueue: `dead-letters-${suffix}` },
    options.visibilityTimeoutSeconds ?? 30,
  );
  await createTaskTable(dynamodb, tableName);
  return {
    sqsEndpoint: queue.endpoint,
    dynamodbEndpoint: dynamo.endpoint,
    sqs,
    dynamodb,
    documents: DynamoDBDocumentClient.from(dynamodb, { marshallOptions: { removeUndefinedValues: true } }),
    tableName,
    queues,
    async stop() {
      sqs.destroy();
      dynamodb.destroy();
      for (const emulator of emulators) await emulator.stop();
    },
  };
}

export interface EmulatorFixtureOptions {
  /** The task queue's visibility timeout: 30 s by default. */
  readonly visibilityTimeoutSeconds?: number;
  /** Fresh emulators for each test (beforeEach) rather than one pair for the suite (beforeAll). */
  readonly each?: boolean;
}

/** What useEmulators reads from the emulators running now; the compiler keeps it in step with TestEmulators. */
const EMULATOR_FIELDS = Object.keys({
  sqsEndpoint: true,
  dynamodbEndpoint: true,
  sqs: true,
  dynamodb: true,
  documents: true,
  tableName: true,
  queues: true,
} satisfies Record<Exclude<keyof TestEmulators, 'stop'>, true>) as Exclude<keyof TestEmulators, 'stop'>[];

/**
 * The integration tests' one emulator fixture: registers the hooks that start the emulators
 * (`startTestEmulators`) before the suite, or before each test with `each`, and stop them after.
 * Call it at the top of a describe, before the hooks that use the emulators (before hooks run in
 * order, after hooks in reverse). The object it returns reads the emulators running now, so a
 * test uses it as it is: `emulators.documents`, `emulators.queues.taskQueueUrl`.
 */
export function useEmulators(options: EmulatorFixtureOptions = {}): TestEmulators {
  let running: TestEmulators | undefined;
  const current = (): TestEmulators => {
    if (!running) throw new Error('the emulators run only within the tests and hooks of the suite that called useEmulators()');
    return running;
  };
  (options.each ? beforeEach : beforeAll)(async () => {
    running = await startTestEmulators(options);
  });
  (options.each ? afterEach : afterAll)(async () => {
    await running?.stop();
    running = undefined;
  });
  const fixture = {
    async stop() {
      const stopping = current();
      running = undefined;
      await stopping.stop();
    },
  } as TestEmulators;
  for (const field of EMULATOR_FIELDS) Object.defineProperty(fixture, field, { get: () => current()[field], enumerable: true });
  return fixture;
}

/**
 * A DynamoDB document client built by the production factory (its timeouts and retries) for a
 * loopback port where nothing listens. Credentials are stubbed, since the SDK signs before it sends:
 * without them a call would fail on signing, not on the connection. Undo with `vi.unstubAllEnvs()`.
 */
export async function unreachableDocumentClient(): Promise<DynamoDBDocumentClient> {
  vi.stubEnv('AWS_ACCESS_KEY_ID', 'local');
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'local');
  return createDynamoDbDocumentClient({
    region: REGION,
    tableName: 'unreachable',
    dynamodbEndpoint: `http://127.0.0.1:${await closedPort()}`,
    sqsEndpoint: undefined,
  });
}

/** A loopback port with nothing listening: what an unreachable dependency looks like. */
export async function closedPort(): Promise<number> {
  const { createServer } = await import('node:net');
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
