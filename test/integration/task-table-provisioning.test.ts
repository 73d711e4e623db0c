/**
 * The local task table across releases: a data folder (.doozer/dynamodb) keeps a table made by an
 * earlier release, and CreateTable does not add the indexes it lacks. dynalite cannot add an
 * index to a table (UpdateTable's GlobalSecondaryIndexUpdates), so provisioning rebuilds it; these
 * tests check that nothing is lost on the way, even when a rebuild is interrupted.
 */
import {
  type AttributeValue,
  BatchWriteItemCommand,
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ListTablesCommand,
  PutItemCommand,
  ScanCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DynamoDbTaskStore } from '../../lib/aws/dynamodb-task-store.ts';
import { type Emulator, startDynamoDbEmulator } from '../../local/emulators.ts';
import { TASK_TABLE_INDEXES, createTaskTable } from '../../local/provision.ts';
import { LOCAL_CREDENTIALS, REGION } from '../../local/settings.ts';

const TABLE = 'doozer-local-tasks';
const NOW = Date.parse('2030-01-01T00:00:00.000Z');

/** The items a table of the previous release holds: a task, an idempotency claim, a login counter. */
function previousReleaseItems(): Record<string, AttributeValue>[] {
  const tasks = Array.from({ length: 30 }, (_, i) => ({
    id: { S: `task_00000000-0000-4000-8000-${String(i).padStart(12, '0')}` },
    owner: { S: i % 2 === 0 ? 'alice' : 'bob' },
    name: { S: 'add' },
    argsJson: { S: '[1,2]' },
    state: { S: i % 3 === 0 ? 'PENDING' : 'SUCCESS' },
    ...(i % 3 === 0 && { openShard: { S: `open#${i % 8}` } }),
    inputDigest: { S: 'digest' },
    createdAt: { S: new Date(NOW - i * 1000).toISOString() },
    updatedAt: { S: new Date(NOW).toISOString() },
    expiresAt: { N: String(NOW / 1000 + 3_600) },
  }));
  return [
    ...tasks,
    { id: { S: 'idem#abc' }, owner: { S: 'alice' }, taskId: { S: tasks[0]!.id.S }, createdAt: { S: new Date(NOW).toISOString() }, expiresAt: { N: '1' } },
    // A number beyond 2^53 must come through exactly.
    { id: { S: 'login#alice' }, failures: { N: '123456789012345678901234567890' }, expiresAt: { N: '2' } },
  ];
}

/** The table as `local/provision.ts` created it before the owner and due indexes. */
async function createPreviousReleaseTable(dynamodb: DynamoDBClient, tableName: string, items: Record<string, AttributeValue>[]) {
  await dynamodb.send(
    new CreateTableCommand({
      TableName: tableName,
      AttributeDefinitions: [
        { AttributeName: 'id', AttributeType: 'S' },
        { AttributeName: 'openShard', AttributeType: 'S' },
        { AttributeName: 'createdAt', AttributeType: 'S' },
      ],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      GlobalSecondaryIndexes: [
        {
          IndexName: 'open-tasks',
          KeySchema: [
            { AttributeName: 'openShard', KeyType: 'HASH' },
            { AttributeName: 'createdAt', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        },
      ],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  // dynalite writes a new table's status to disk a moment later: until then it is not found.
  await waitUntilTableExists({ client: dynamodb, maxWaitTime: 30, minDelay: 1, maxDelay: 1 }, { TableName: tableName });
  await putAll(dynamodb, tableName, items);
}

async function putAll(dynamodb: DynamoDBClient, tableName: string, items: Record<string, AttributeValue>[]) {
  for (let start = 0; start < items.length; start += 25) {
    const requests = items.slice(start, start + 25).map((Item) => ({ PutRequest: { Item } }));
    await dynamodb.send(new BatchWriteItemCommand({ RequestItems: { [tableName]: requests } }));
  }
}

async function scanAll(dynamodb: DynamoDBClient, tableName: string): Promise<Record<string, AttributeValue>[]> {
  const { Items } = await dynamodb.send(new ScanCommand({ TableName: tableName, ConsistentRead: true }));
  return (Items ?? []).sort((a, b) => a.id!.S!.localeCompare(b.id!.S!));
}

/** What provisioning should leave: every item as it was, tasks with their owner-index key added. */
function withListKeys(items: Record<string, AttributeValue>[]): Record<string, AttributeValue>[] {
  return items
    .map((item) => (item.id!.S!.startsWith('task_') ? { ...item, listKey: { S: `${item.createdAt!.S}#${item.id!.S}` } } : item))
    .sort((a, b) => a.id!.S!.localeCompare(b.id!.S!));
}

async function indexNames(dynamodb: DynamoDBClient, tableName: string): Promise<string[]> {
  const { Table } = await dynamodb.send(new DescribeTableCommand({ TableName: tableName }));
  return (Table?.GlobalSecondaryIndexes ?? []).map((index) => index.IndexName!).sort();
}

async function tableNames(dynamodb: DynamoDBClient): Promise<string[]> {
  return (await dynamodb.send(new ListTablesCommand({}))).TableNames ?? [];
}

describe('createTaskTable on a table kept from an earlier release (dynalite)', () => {
  let dir: string;
  let emulator: Emulator;
  let dynamodb: DynamoDBClient;

  const start = async () => {
    emulator = await startDynamoDbEmulator(0, { path: join(dir, 'dynamodb') });
    dynamodb = new DynamoDBClient({ region: REGION, credentials: LOCAL_CREDENTIALS, endpoint: emulator.endpoint });
  };
  const stop = async () => {
    dynamodb?.destroy();
    await emulator?.stop();
  };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'doozer-provision-'));
    await start();
  });

  afterEach(async () => {
    await stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('adds the indexes it lacks after a restart, keeps every item exactly, and lists its old tasks by owner', async () => {
    const items = previousReleaseItems();
    await createPreviousReleaseTable(dynamodb, TABLE, items);
    await stop();
    await start();
    const lines: string[] = [];

    await createTaskTable(dynamodb, TABLE, { log: (line) => lines.push(line) });

    expect(await indexNames(dynamodb, TABLE)).toEqual(TASK_TABLE_INDEXES.map((index) => index.IndexName).sort());
    expect(await scanAll(dynamodb, TABLE)).toEqual(withListKeys(items));
    expect(await tableNames(dynamodb)).toEqual([TABLE]);
    expect(lines.join('\n')).toMatch(/rebuilt the table doozer-local-tasks: 32 items kept/);
    const store = new DynamoDbTaskStore({ client: DynamoDBDocumentClient.from(dynamodb), tableName: TABLE });
    const page = await store.listByOwner({ owner: 'alice', limit: 100, nowMs: NOW });
    expect(page.tasks.map((task) => task.id)).toEqual(items.filter((item) => item.owner?.S === 'alice' && item.id!.S!.startsWith('task_')).map((item) => item.id!.S));
    const open = items.filter((item) => item.openShard).map((item) => item.id!.S);
    expect((await store.listOpen(new Date(NOW).toISOString(), 100)).sort()).toEqual(open.sort());
  });

  it('changes nothing on a table that has every index', async () => {
    await createTaskTable(dynamodb, TABLE);
    const store = new DynamoDbTaskStore({ client: DynamoDBDocumentClient.from(dynamodb), tableName: TABLE });
    await store.create({ id: 'task_00000000-0000-4000-8000-000000000001', owner: 'alice', name: 'add', args: [1], state: 'PENDING', createdAt: 'a', updatedAt: 'a', expiresAt: 9e9 });
    const before = await scanAll(dynamodb, TABLE);
    const lines: string[] = [];

    await createTaskTable(dynamodb, TABLE, { log: (line) => lines.push(line) });

    expect(await scanAll(dynamodb, TABLE)).toEqual(before);
    expect(lines).toEqual([]);
    expect(await tableNames(dynamodb)).toEqual([TABLE]);
  });

  it('finishes a rebuild interrupted after its copy was complete and the table deleted', async () => {
    const items = previousReleaseItems();
    // What a rebuild leaves when killed between deleting the table and filling it again.
    await createPreviousReleaseTable(dynamodb, `${TABLE}-rebuild`, [...items, { id: { S: 'rebuild#complete' } }]);
    await stop();
    await start();

    await createTaskTable(dynamodb, TABLE);

    expect(await indexNames(dynamodb, TABLE)).toHaveLength(TASK_TABLE_INDEXES.length);
    expect(await scanAll(dynamodb, TABLE)).toEqual(withListKeys(items));
    expect(await tableNames(dynamodb)).toEqual([TABLE]);
  });

  it('starts a rebuild over when it was interrupted while copying, from the table it had not touched', async () => {
    const items = previousReleaseItems();
    await createPreviousReleaseTable(dynamodb, TABLE, items);
    // A copy with only some of the items and no mark of completion.
    await createPreviousReleaseTable(dynamodb, `${TABLE}-rebuild`, items.slice(0, 5));

    await createTaskTable(dynamodb, TABLE);

    expect(await indexNames(dynamodb, TABLE)).toHaveLength(TASK_TABLE_INDEXES.length);
    expect(await scanAll(dynamodb, TABLE)).toEqual(withListKeys(items));
    expect(await tableNames(dynamodb)).toEqual([TABLE]);
  });

  it('gives a task written by the previous release its owner-index key on a table that has every index', async () => {
    // A table rebuilt already, where an API of the previous release (mid-deploy, say) wrote a task.
    await createTaskTable(dynamodb, TABLE);
    const [task] = previousReleaseItems();
    await dynamodb.send(new PutItemCommand({ TableName: TABLE, Item: task! }));

    await createTaskTable(dynamodb, TABLE);

    expect(await scanAll(dynamodb, TABLE)).toEqual(withListKeys([task!]));
  });
});
