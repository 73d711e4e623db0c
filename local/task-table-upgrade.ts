import {
  type AttributeDefinition,
  type AttributeValue,
  BatchWriteItemCommand,
  CreateTableCommand,
  type CreateTableCommandInput,
  DeleteTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  DynamoDBServiceException,
  GetItemCommand,
  type GlobalSecondaryIndex,
  PutItemCommand,
  ResourceNotFoundException,
  ScanCommand,
  UpdateItemCommand,
  UpdateTableCommand,
  type WriteRequest,
  waitUntilTableExists,
  waitUntilTableNotExists,
} from '@aws-sdk/client-dynamodb';
import { setTimeout as sleep } from 'node:timers/promises';
import { isConditionFailure } from '../lib/aws/aws-errors.ts';
import { listKeyOf } from '../lib/aws/dynamodb-task-items.ts';

/**
 * Brings a task table kept from an earlier release (the data folder outlives a restart) up to this
 * release's definition, keeping its items (local/provision.ts, createTaskTable): the indexes it
 * lacks, added in place where the service can or by rebuilding the table where it cannot (dynalite),
 * and the owner index's sort key on the tasks recorded before it.
 */

/** The attribute definitions of an index's keys, from the table's (UpdateTable wants them with the index). */
function keyAttributesOf(definition: CreateTableCommandInput, index: GlobalSecondaryIndex): AttributeDefinition[] {
  const keys = new Set(index.KeySchema?.map((key) => key.AttributeName));
  return (definition.AttributeDefinitions ?? []).filter((attribute) => keys.has(attribute.AttributeName));
}

/**
 * Adds each index with its own UpdateTable (DynamoDB creates one per call) and waits until it is
 * ACTIVE, as a Query of an index still CREATING fails. False when the service cannot add one.
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.OnlineOps.html
 */
export async function addIndexesInPlace(
  dynamodb: DynamoDBClient,
  definition: CreateTableCommandInput,
  indexes: readonly GlobalSecondaryIndex[],
  log: (line: string) => void,
): Promise<boolean> {
  const tableName = definition.TableName!;
  for (const index of indexes) {
    log(`adding the index ${index.IndexName} to the table ${tableName}`);
    try {
      await dynamodb.send(
        new UpdateTableCommand({
          TableName: tableName,
          AttributeDefinitions: keyAttributesOf(definition, index),
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
export function rebuildCopyOf(tableName: string): string {
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
export async function rebuildTaskTable(dynamodb: DynamoDBClient, definition: CreateTableCommandInput, log: (line: string) => void): Promise<void> {
  const tableName = definition.TableName!;
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
  await createTable(dynamodb, definition);
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

export async function tableExists(dynamodb: DynamoDBClient, tableName: string): Promise<boolean> {
  try {
    await dynamodb.send(new DescribeTableCommand({ TableName: tableName }));
    return true;
  } catch (error) {
    if (error instanceof ResourceNotFoundException) return false;
    throw error;
  }
}

export async function createTable(dynamodb: DynamoDBClient, definition: CreateTableCommandInput): Promise<void> {
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
export async function backfillListKeys(dynamodb: DynamoDBClient, tableName: string): Promise<void> {
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
        if (!isConditionFailure(error)) throw error;
      }
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey);
}
