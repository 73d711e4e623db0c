/**
 * The client side of one AWS SDK call, measured in a process of its own (`bench/unit-costs.ts` runs
 * it): it makes the calls the functions make, with the clients the functions use
 * (lib/aws/clients.ts), against the local stack's emulators, and reports its own CPU per call. The
 * parent measures the emulators' side of the same calls in its own process over the same window.
 *
 * Protocol, one JSON object per line: the child warms every kind up, then for each writes
 * `{"ready":kind}` after a second warm-up of that kind, waits for a line `go` on stdin (the parent samples its CPU first), runs the calls, and writes
 * `{"done":kind,"calls":n,"cpuMs":…,"wallMs":…}`. Environment: DYNAMODB_ENDPOINT, SQS_ENDPOINT,
 * TABLE_NAME, UNIT_CALLS, UNIT_CONCURRENCY, UNIT_WARMUP.
 */
import { CreateQueueCommand, DeleteQueueCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { createInterface } from 'node:readline';
import { createDynamoDbDocumentClient, createSqsClient } from '../lib/aws/clients.ts';
import { REGION } from '../local/settings.ts';
import { UNIT_CALL_KINDS, type UnitCallKind } from './unit-costs.ts';

const env = process.env;
const config = {
  region: REGION,
  tableName: env.TABLE_NAME!,
  dynamodbEndpoint: env.DYNAMODB_ENDPOINT!,
  sqsEndpoint: env.SQS_ENDPOINT!,
};
const documents = createDynamoDbDocumentClient(config);
const sqs = createSqsClient(config);
const calls = Number(env.UNIT_CALLS ?? 2000);
const concurrency = Number(env.UNIT_CONCURRENCY ?? 16);
const warmup = Number(env.UNIT_WARMUP ?? 200);

// A queue of its own: a message on the task queue would wake the worker's poller and cost more.
const { QueueUrl: queueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: `doozer-bench-unit-costs-${process.pid}` }));

/** An item about the size of a task record, so the calls move what the real ones move. */
const item = (index: number) => ({
  id: `bench_unit_${index}`,
  owner: 'bench',
  name: 'add',
  args: [String(index), '1'],
  state: 'PENDING',
  createdAt: new Date().toISOString(),
  updatedAt: new Date().toISOString(),
  expiresAt: Math.floor(Date.now() / 1000) + 3600,
});

const operations: Record<UnitCallKind, (index: number) => Promise<unknown>> = {
  'DynamoDB GetItem': (index) =>
    documents.send(new GetCommand({ TableName: config.tableName, Key: { id: `bench_unit_${index % 100}` }, ConsistentRead: true })),
  'DynamoDB PutItem': (index) => documents.send(new PutCommand({ TableName: config.tableName, Item: item(index) })),
  'DynamoDB UpdateItem': (index) =>
    documents.send(
      new UpdateCommand({
        TableName: config.tableName,
        Key: { id: `bench_unit_${index % 100}` },
        UpdateExpression: 'SET #state = :state, #updatedAt = :at',
        ExpressionAttributeNames: { '#state': 'state', '#updatedAt': 'updatedAt' },
        ExpressionAttributeValues: { ':state': 'SUCCESS', ':at': new Date().toISOString() },
      }),
    ),
  'SQS SendMessage': (index) =>
    sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify({ taskId: `bench_unit_${index}`, name: 'add', args: [String(index), '1'] }) })),
};

async function run(operation: (index: number) => Promise<unknown>, count: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) await operation(next++);
    }),
  );
}

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const write = (message: object) => process.stdout.write(`${JSON.stringify(message)}\n`);

// The items the reads and updates use exist before any kind is measured, and every kind is warmed
// up (JIT, sockets) before the first is measured, so the first measured is not also the coldest.
await run(operations['DynamoDB PutItem'], 100);
for (const kind of UNIT_CALL_KINDS) await run(operations[kind], warmup);
for (const kind of UNIT_CALL_KINDS) {
  await run(operations[kind], warmup);
  write({ ready: kind });
  const go = await lines.next();
  if (go.done) break;
  const cpuBefore = process.cpuUsage();
  const wallBefore = performance.now();
  await run(operations[kind], calls);
  const cpu = process.cpuUsage(cpuBefore);
  write({ done: kind, calls, cpuMs: (cpu.user + cpu.system) / 1000, wallMs: performance.now() - wallBefore });
}
await sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl }));
process.exit(0);
