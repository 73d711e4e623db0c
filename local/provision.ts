import {
  type AttributeDefinition,
  type AttributeValue,
  BatchWriteItemCommand,
  ConditionalCheckFailedException,
  CreateTableCommand,
  type CreateTableCommandInput,
  DeleteTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  DynamoDBServiceException,
  GetItemCommand,
  type GlobalSecondaryIndex,
  type ProjectionType,
  PutItemCommand,
  ResourceInUseException,
  ResourceNotFoundException,
  ScanCommand,
  UpdateItemCommand,
  UpdateTableCommand,
  type WriteRequest,
  waitUntilTableExists,
  waitUntilTableNotExists,
} from '@aws-sdk/client-dynamodb';
import { setTimeout as sleep } from 'node:timers/promises';
import { DUE_TASKS_INDEX, OPEN_TASKS_INDEX, OWNER_TASKS_INDEX, WEBHOOK_DELIVERIES_INDEX, listKeyOf } from '../lib/aws/dynamodb-task-store.ts';
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { QUEUE_SETTINGS } from './settings.ts';

/** The queue's redrive: after this many receives a message moves to the dead-letter queue. */
export const MAX_RECEIVE_COUNT = QUEUE_SETTINGS.maxReceiveCount;

/** Longer than a task lives (7 days), so a queued message outlasts any worker outage its task survives. */
const FOURTEEN_DAYS = '1209600';

export interface Queues {
  readonly taskQueueUrl: string;
  readonly taskQueueArn: string;
  readonly deadLetterQueueUrl: string;
  readonly deadLetterQueueArn: string;
  /** The notifier's queue and its dead-letter queue (webhooks). */
  readonly webhookQueueUrl: string;
  readonly webhookDeadLetterQueueUrl: string;
}

/** As serverless.yml's WebhookQueue: the notifier's visibility timeout and redrive. */
const WEBHOOK_VISIBILITY_TIMEOUT_SECONDS = '180';
const WEBHOOK_MAX_RECEIVE_COUNT = 5;

/**
 * Creates the task queue and its dead-letter queue as serverless.yml declares them for AWS: redrive
 * after MAX_RECEIVE_COUNT receives, 14 days' retention. CreateQueue is idempotent.
 */
export async function createQueues(
  sqs: SQSClient,
  names: { queue: string; deadLetterQueue: string; webhookQueue?: string; webhookDeadLetterQueue?: string },
  visibilityTimeoutSeconds: number,
): Promise<Queues> {
  const webhooks = await createWebhookQueues(sqs, {
    queue: names.webhookQueue ?? `${names.queue}-webhooks`,
    deadLetterQueue: names.webhookDeadLetterQueue ?? `${names.queue}-webhook-dead-letters`,
  });
  const dlq = await sqs.send(
    new CreateQueueCommand({ QueueName: names.deadLetterQueue, Attributes: { MessageRetentionPeriod: FOURTEEN_DAYS } }),
  );
  const deadLetterQueueUrl = dlq.QueueUrl!;
  const deadLetterQueueArn = await queueArn(sqs, deadLetterQueueUrl);
  const queue = await sqs.send(
    new CreateQueueCommand({
      QueueName: names.queue,
      Attributes: {
        VisibilityTimeout: String(visibilityTimeoutSeconds),
        MessageRetentionPeriod: FOURTEEN_DAYS,
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: deadLetterQueueArn, maxReceiveCount: MAX_RECEIVE_COUNT }),
      },
    }),
  );
  const taskQueueUrl = queue.QueueUrl!;
  return { taskQueueUrl, taskQueueArn: await queueArn(sqs, taskQueueUrl), deadLetterQueueUrl, deadLetterQueueArn, ...webhooks };
}

async function createWebhookQueues(
  sqs: SQSClient,
  names: { queue: string; deadLetterQueue: string },
): Promise<{ webhookQueueUrl: string; webhookDeadLetterQueueUrl: string }> {
  const dlq = await sqs.send(new CreateQueueCommand({ QueueName: names.deadLetterQueue, Attributes: { MessageRetentionPeriod: FOURTEEN_DAYS } }));
  const queue = await sqs.send(
    new CreateQueueCommand({
      QueueName: names.queue,
      Attributes: {
        VisibilityTimeout: WEBHOOK_VISIBILITY_TIMEOUT_SECONDS,
        MessageRetentionPeriod: FOURTEEN_DAYS,
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: await queueArn(sqs, dlq.QueueUrl!), maxReceiveCount: WEBHOOK_MAX_RECEIVE_COUNT }),
      },
    }),
  );
  return { webhookQueueUrl: queue.QueueUrl!, webhookDeadLetterQueueUrl: dlq.QueueUrl! };
}

async function queueArn(sqs: SQSClient, queueUrl: string): Promise<string> {
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
  return Attributes!.QueueArn!;
}

/**
 * The task table's secondary indexes, as serverless.yml declares them for AWS
 * (test/deploy/template.test.ts checks that the two agree). Every key attribute is a string.
 */
export const TASK_TABLE_INDEXES: readonly GlobalSecondaryIndex[] = [
  globalIndex(OPEN_TASKS_INDEX, ['openShard', 'createdAt'], 'KEYS_ONLY'),
  globalIndex(OWNER_TASKS_INDEX, ['owner', 'listKey'], 'ALL'),
  globalIndex(DUE_TASKS_INDEX, ['dueShard', 'runAt'], 'KEYS_ONLY'),
  globalIndex(WEBHOOK_DELIVERIES_INDEX, ['notifyShard', 'notifyAt'], 'KEYS_ONLY'),
];

function globalIndex(name: string, [hash, range]: [string, string], projection: ProjectionType): GlobalSecondaryIndex {
  return {
    IndexName: name,
    KeySchema: [
      { AttributeName: hash, KeyType: 'HASH' },
      { AttributeName: range, KeyType: 'RANGE' },
    ],
    Projection: { ProjectionType: projection },
  };
}

/** The key attributes of `indexes` (and `id` with `table`), each once. */
function attributesOf(indexes: readonly GlobalSecondaryIndex[], table = false): AttributeDefinition[] {
  const names = new Set(table ? ['id'] : []);
  for (const index of indexes) for (const key of index.KeySchema ?? []) names.add(key.AttributeName!);
  return [...names].map((name) => ({ AttributeName: name, AttributeType: 'S' }));
}

function taskTableDefinition(tableName: string): CreateTableCommandInput {
  return {
    TableName: tableName,
    AttributeDefinitions: attributesOf(TASK_TABLE_INDEXES, true),
    KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
    GlobalSecondaryIndexes: [...TASK_TABLE_INDEXES],
    BillingMode: 'PAY_PER_REQUEST',
  };
}

/**
 * Creates the task table (keyed by id, on-demand, with TASK_TABLE_INDEXES) unless it exists, and
 * resolves once it is ACTIVE: a table still CREATING answers every read with ResourceNotFound (dynalite
 * writes its status to disk when it keeps its data there, which is not instant either).
 *
 * A table kept from an earlier release (the data folder outlives a restart) gets the indexes it
 * lacks, keeping its items: CreateTable does not add them to a table that exists. UpdateTable adds
 * one at a time where the service can (DynamoDB, LocalStack); dynalite cannot (it refuses the
 * request, or accepts it and adds nothing), so there the table is rebuilt (rebuildTaskTable).
 * Then tasks recorded before the owner index get its sort key (backfillListKeys).
 */
export async function createTaskTable(
  dynamodb: DynamoDBClient,
  tableName: string,
  options: { readonly log?: (line: string) => void } = {},
): Promise<void> {
  const log = options.log ?? (() => {});
  if (await tableExists(dynamodb, rebuildCopyOf(tableName))) {
    log(`finishing the rebuild of the table ${tableName} that was interrupted`);
    await rebuildTaskTable(dynamodb, tableName, log);
  } else {
    try {
      await dynamodb.send(new CreateTableCommand(taskTableDefinition(tableName)));
    } catch (error) {
      if (!(error instanceof ResourceInUseException)) throw error;
    }
    await waitUntilTableExists({ client: dynamodb, maxWaitTime: 30, minDelay: 1, maxDelay: 1 }, { TableName: tableName });
    const missing = await missingIndexes(dynamodb, tableName);
    if (missing.length > 0 && !(await addIndexesInPlace(dynamodb, tableName, missing, log))) {
      await rebuildTaskTable(dynamodb, tableName, log);
    }
  }
  await backfillListKeys(dynamodb, tableName);
}

async function missingIndexes(dynamodb: DynamoDBClient, tableName: string): Promise<GlobalSecondaryIndex[]> {
  const { Table } = await dynamodb.send(new DescribeTableCommand({ TableName: tableName }));
  const present = new Set(Table?.GlobalSecondaryIndexes?.map((index) => index.IndexName));
  return TASK_TABLE_INDEXES.filter((index) => !present.has(index.IndexName));
}

/**
 * Adds each index with its own UpdateTable (DynamoDB creates one per call) and waits until it is
 * ACTIVE, as a Query of an index still CREATING fails. False when the service cannot add one.
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.OnlineOps.html
 */
async function addIndexesInPlace(
  dynamodb: DynamoDBClient,
  tableName: string,
  indexes: readonly GlobalSecondaryIndex[],
  log: (line: string) => void,
): Promise<boolean> {
  for (const index of indexes) {
    log(`adding the index ${index.IndexName} to the table ${tableName}`);
    try {
      await dynamodb.send(
        new UpdateTableCommand({
          TableName: tableName,
          AttributeDefinitions: attributesOf([index]),
          GlobalSecondaryIndexUpdates: [{ Create: index }],
        }),
      );
    } catch (error) {
      // dynalite validates the request as for a provisioned table (it wants ProvisionedThroughput,
      // which an on-demand table refuses on AWS): it cannot add the index.
      if (error instanceof DynamoDBServiceException && error.name === 'ValidationException') return false;
      throw error;
    }
    if (!(await untilIndexActive(dynamodb, tableName, index.IndexName!))) return false;
  }
  return true;
}

/** Polls until the index is ACTIVE; false if the table does not list it at all (the update was ignored). */
async function untilIndexActive(dynamodb: DynamoDBClient, tableName: string, indexName: string): Promise<boolean> {
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    const { Table } = await dynamodb.send(new DescribeTableCommand({ TableName: tableName }));
    const index = Table?.GlobalSecondaryIndexes?.find((candidate) => candidate.IndexName === indexName);
    if (!index) return false;
    if (index.IndexStatus === 'ACTIVE') return true;
    if (Date.now() > deadline) throw new Error(`the index ${indexName} of the table ${tableName} is still ${index.IndexStatus} after 10 minutes`);
    await sleep(500);
  }
}

/** The table a rebuild keeps the items in meanwhile. */
function rebuildCopyOf(tableName: string): string {
  return `${tableName}-rebuild`;
}

/** Written last into the copy: the copy holds every item only when it holds this one. */
const COPY_COMPLETE: Record<string, AttributeValue> = { id: { S: 'rebuild#complete' } };

/**
 * Recreates the table with every index and the items it held. The items go first into a copy
 * table, marked complete by a last item; only then is the table deleted, created again and filled
 * from the copy, and the copy deleted. So an interrupted rebuild loses nothing and resumes on the
 * next start: from the beginning while the copy is incomplete (the table is untouched until then),
 * from the copy once it is complete.
 */
async function rebuildTaskTable(dynamodb: DynamoDBClient, tableName: string, log: (line: string) => void): Promise<void> {
  const copy = rebuildCopyOf(tableName);
  if (!(await isCompleteCopy(dynamodb, copy))) {
    log(`rebuilding the table ${tableName} with the indexes it lacks (this DynamoDB cannot add them to a table); its items are kept`);
    await deleteTable(dynamodb, copy);
    await createTable(dynamodb, {
      TableName: copy,
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    });
    await copyItems(dynamodb, tableName, copy);
    await dynamodb.send(new PutItemCommand({ TableName: copy, Item: COPY_COMPLETE }));
  }
  await deleteTable(dynamodb, tableName);
  await createTable(dynamodb, taskTableDefinition(tableName));
  const copied = await copyItems(dynamodb, copy, tableName, (item) => item.id?.S !== COPY_COMPLETE.id!.S);
  await deleteTable(dynamodb, copy);
  log(`rebuilt the table ${tableName}: ${copied} items kept`);
}

async function isCompleteCopy(dynamodb: DynamoDBClient, copy: string): Promise<boolean> {
  try {
    const { Item } = await dynamodb.send(new GetItemCommand({ TableName: copy, Key: COPY_COMPLETE, ConsistentRead: true }));
    return Item !== undefined;
  } catch (error) {
    if (error instanceof ResourceNotFoundException) return false;
    throw error;
  }
}

async function tableExists(dynamodb: DynamoDBClient, tableName: string): Promise<boolean> {
  try {
    await dynamodb.send(new DescribeTableCommand({ TableName: tableName }));
    return true;
  } catch (error) {
    if (error instanceof ResourceNotFoundException) return false;
    throw error;
  }
}

async function createTable(dynamodb: DynamoDBClient, definition: CreateTableCommandInput): Promise<void> {
  await dynamodb.send(new CreateTableCommand(definition));
  await waitUntilTableExists({ client: dynamodb, maxWaitTime: 30, minDelay: 1, maxDelay: 1 }, { TableName: definition.TableName! });
}

async function deleteTable(dynamodb: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await dynamodb.send(new DeleteTableCommand({ TableName: tableName }));
  } catch (error) {
    if (error instanceof ResourceNotFoundException) return;
    throw error;
  }
  await waitUntilTableNotExists({ client: dynamodb, maxWaitTime: 30, minDelay: 1, maxDelay: 1 }, { TableName: tableName });
}

/**
 * Copies every item (that `keep` keeps) as it is, in DynamoDB's own attribute values, so nothing
 * is lost to a conversion (numbers beyond 2^53 stay exact). Returns how many it copied.
 */
async function copyItems(
  dynamodb: DynamoDBClient,
  from: string,
  to: string,
  keep: (item: Record<string, AttributeValue>) => boolean = () => true,
): Promise<number> {
  let copied = 0;
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    const page = await dynamodb.send(new ScanCommand({ TableName: from, ConsistentRead: true, ExclusiveStartKey: startKey }));
    const items = (page.Items ?? []).filter(keep);
    for (let start = 0; start < items.length; start += 25) {
      await writeAll(dynamodb, to, items.slice(start, start + 25).map((Item) => ({ PutRequest: { Item } })));
    }
    copied += items.length;
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return copied;
}

/** One BatchWriteItem, its unprocessed items sent again until none is left (a local table: few tries). */
async function writeAll(dynamodb: DynamoDBClient, tableName: string, requests: WriteRequest[]): Promise<void> {
  for (let attempt = 0; requests.length > 0; attempt += 1) {
    if (attempt === 10) throw new Error(`the table ${tableName} left ${requests.length} items unwritten after 10 tries`);
    if (attempt > 0) await sleep(50 * 2 ** attempt);
    const { UnprocessedItems } = await dynamodb.send(new BatchWriteItemCommand({ RequestItems: { [tableName]: requests } }));
    requests = UnprocessedItems?.[tableName] ?? [];
  }
}

/**
 * Gives each task recorded before the owner index (by a release that did not write `listKey`) its
 * sort key, so that listByOwner lists it: an item without it is not in the index. It runs on every
 * start, so an interrupted one finishes next time; once every task has it, it is a scan that
 * writes nothing (a laptop's table: tasks live 7 days).
 */
async function backfillListKeys(dynamodb: DynamoDBClient, tableName: string): Promise<void> {
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    const page = await dynamodb.send(
      new ScanCommand({
        TableName: tableName,
        ConsistentRead: true,
        ProjectionExpression: 'id, createdAt',
        FilterExpression:
          'begins_with(id, :task) AND attribute_type(createdAt, :string) AND attribute_type(#owner, :string) AND attribute_not_exists(listKey)',
        ExpressionAttributeNames: { '#owner': 'owner' },
        ExpressionAttributeValues: { ':task': { S: 'task_' }, ':string': { S: 'S' } },
        ExclusiveStartKey: startKey,
      }),
    );
    for (const item of page.Items ?? []) {
      const listKey = listKeyOf({ createdAt: item.createdAt!.S!, id: item.id!.S! });
      try {
        await dynamodb.send(
          new UpdateItemCommand({
            TableName: tableName,
            Key: { id: item.id! },
            UpdateExpression: 'SET listKey = :listKey',
            // Never recreate an item deleted since the scan (the TTL reaper), nor touch a newer key.
            ConditionExpression: 'attribute_exists(id) AND attribute_not_exists(listKey)',
            ExpressionAttributeValues: { ':listKey': { S: listKey } },
          }),
        );
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      }
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey);
}
