import type { Task, TaskInput, TaskProgress } from '../../lib/tasks/task.ts';
import type { OwnerTaskQuery, StateChange, TaskStore } from '../../lib/ports.ts';
import { isTerminal } from '../../lib/tasks/task.ts';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { type Emulator, startSqsEmulator } from '../../local/emulators.ts';
import { type Queues, createQueues, createTaskTable } from '../../local/provision.ts';
import { LOCAL_CREDENTIALS, REGION } from '../../local/settings.ts';
import { freePorts } from '../support/local-stack-process.ts';
/**
 * A store that counts the terminal writes that took effect, per task: the evidence that no task
 * got two results. Delegates everything else.
 */
export class CountingStore implements TaskStore {
  readonly terminalWrites = new Map<string, number>();

  constructor(private readonly inner: TaskStore) {}

  create(task: Task) {
    return this.inner.create(task);
  }
  get(id: string) {
    return this.inner.get(id);
  }
  createMany(tasks: readonly Task[]) {
    return this.inner.createMany(tasks);
  }
  listDue(dueBy: string, limit: number) {
    return this.inner.listDue(dueBy, limit);
  }
  listByOwner(query: OwnerTaskQuery) {
    return this.inner.listByOwner(query);
  }
  listOpen(before: string, limit: number) {
    return this.inner.listOpen(before, limit);
  }
  recordRequeue(id: string, previous: number, at: string) {
    return this.inner.recordRequeue(id, previous, at);
  }
  markStarted(id: string, at: string, input: TaskInput) {
    return this.inner.markStarted(id, at, input);
  }
  saveProgress(id: string, progress: TaskProgress, input: TaskInput) {
    return this.inner.saveProgress(id, progress, input);
  }
  async transition(id: string, change: StateChange) {
    const updated = await this.inner.transition(id, change);
    if (updated && isTerminal(change.to)) this.terminalWrites.set(id, (this.terminalWrites.get(id) ?? 0) + 1);
    return updated;
  }

  /** Tasks whose terminal state was written more than once. */
  duplicated(): number {
    return [...this.terminalWrites.values()].filter((count) => count > 1).length;
  }
}

/** One line a run prints, so RELIABILITY.md can quote the figures of the last run. */
export function report(scenario: string, figures: Record<string, number | string>): void {
  console.log(`[reliability] ${scenario}: ${Object.entries(figures).map(([key, value]) => `${key}=${value}`).join(' ')}`);
}


/**
 * SQS and DynamoDB emulators that can be stopped and started again on the same ports. DynamoDB keeps
 * its data on disk across a restart (as the real service does); fauxqs keeps nothing, so its queues
 * are created again on start and any message in them is lost: the sweeper's case.
 */
export interface RestartableEmulators {
  readonly sqs: SQSClient;
  readonly documents: DynamoDBDocumentClient;
  readonly sqsEndpoint: string;
  readonly dynamodbEndpoint: string;
  readonly tableName: string;
  readonly queues: Queues;
  stopSqs(): Promise<void>;
  startSqs(): Promise<void>;
  stopDynamoDb(): Promise<void>;
  startDynamoDb(): Promise<void>;
  stop(): Promise<void>;
}

export async function startRestartableEmulators(visibilityTimeoutSeconds: number): Promise<RestartableEmulators> {
  const [sqsPort, dynamodbPort] = (await freePorts(2)) as [number, number];
  const dataPath = await mkdtemp(join(tmpdir(), 'doozer-dynalite-'));
  const names = { queue: 'tasks', deadLetterQueue: 'dead-letters' };
  const tableName = 'tasks';
  let sqsEmulator: Emulator | undefined = await startSqsEmulator(sqsPort);
  let dynamoEmulator: KillableProcess | undefined = await startDynamoDbProcess(dynamodbPort, dataPath);
  const dynamodbEndpoint = `http://127.0.0.1:${dynamodbPort}`;
  // The SDK's default retries: a keep-alive socket to a stopped emulator resets once, then reconnects.
  const common = { region: REGION, credentials: LOCAL_CREDENTIALS };
  const sqs = new SQSClient({ ...common, endpoint: sqsEmulator.endpoint });
  const dynamodb = new DynamoDBClient({ ...common, endpoint: dynamodbEndpoint });
  const queues = await createQueues(sqs, names, visibilityTimeoutSeconds);
  await createTaskTable(dynamodb, tableName);
  return {
    sqs,
    documents: DynamoDBDocumentClient.from(dynamodb),
    sqsEndpoint: sqsEmulator.endpoint,
    dynamodbEndpoint,
    tableName,
    queues,
    async stopSqs() {
      await sqsEmulator?.stop();
      sqsEmulator = undefined;
    },
    async startSqs() {
      sqsEmulator = await startSqsEmulator(sqsPort);
      await createQueues(sqs, names, visibilityTimeoutSeconds);
    },
    async stopDynamoDb() {
      await dynamoEmulator?.kill();
      dynamoEmulator = undefined;
    },
    async startDynamoDb() {
      dynamoEmulator = await startDynamoDbProcess(dynamodbPort, dataPath);
    },
    async stop() {
      sqs.destroy();
      dynamodb.destroy();
      await sqsEmulator?.stop();
      await dynamoEmulator?.kill();
      await rm(dataPath, { recursive: true, force: true });
    },
  };
}

interface KillableProcess {
  /** Stops it (SIGTERM, SIGKILL after 5 s); resolves once the process is gone. */
  kill(): Promise<void>;
}

const DYNALITE_PROCESS = fileURLToPath(new URL('./fixtures/dynalite-process.ts', import.meta.url));

/** dynalite on `port`, its data in `path`, in a child process (see fixtures/dynalite-process.ts). */
async function startDynamoDbProcess(port: number, path: string): Promise<KillableProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', DYNALITE_PROCESS], {
    env: { ...process.env, PORT: String(port), DATA_PATH: path },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = once(child, 'exit');
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve());
    void exited.then(([code]) => reject(new Error(`dynalite exited with ${code} before it was ready`)));
  });
  return {
    async kill() {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
