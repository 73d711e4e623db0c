import { BatchWriteCommand, type BatchWriteWriteRequest, type DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { backoff, eachConcurrently } from '../concurrency.ts';
import { UnavailableError } from '../errors.ts';
import type {
  AttemptClaim,
  AttemptRecord,
  DueDelivery,
  OwnerTaskQuery,
  StateChange,
  TaskPage,
  TaskStore,
  WebhookDeliveryStore,
} from '../ports.ts';
import { RUNNABLE_STATES, type Task, type TaskInput, type TaskProgress, isSameInput, isTerminal } from '../tasks/task.ts';
import { awsUnavailable } from './aws-errors.ts';
import { DynamoDbItems } from './dynamodb-items.ts';
import { Expression, updateTask, whileIn } from './dynamodb-task-conditions.ts';
import {
  DUE_TASKS,
  OPEN_SHARDS,
  OPEN_TASKS_INDEX,
  OWNER_TASKS_INDEX,
  listKeyOf,
  newItem,
  openShardOf,
  positionOf,
  soonestAcrossShards,
  toTask,
} from './dynamodb-task-items.ts';
import { DynamoDbWebhookDeliveries } from './dynamodb-webhook-deliveries.ts';

/**
 * What one listByOwner call may examine before it answers with what it found and a `next`: a
 * filter that matches few tasks must not read an owner's whole history in one request. 1,000
 * items, or 1 MB read (128 read units of eventually consistent reads of 4 KB each).
 */
const LIST_ITEM_BUDGET = 1_000;
const LIST_CAPACITY_BUDGET = 128;

/** BatchWriteItem takes at most 25 puts; a few such calls run at once. */
const BATCH_WRITE_SIZE = 25;
const BATCH_WRITE_CONCURRENCY = 4;
/**
 * Unprocessed items (throttled, or an internal failure on AWS's side) are sent again after an
 * exponential backoff with full jitter, as the BatchWriteItem reference asks ("we strongly recommend
 * that you use an exponential backoff algorithm"; the jitter from the AWS Architecture Blog's
 * "Exponential Backoff And Jitter"): up to 5 more times, waiting up to 20, 40, 80, 160, 320 ms.
 */
const BATCH_WRITE_RETRIES = 5;
const BATCH_WRITE_BACKOFF_MS = 20;

export interface DynamoDbTaskStoreOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
}

/**
 * Tasks in one DynamoDB table keyed by `id`. Items carry `expiresAt` in epoch seconds, the
 * attribute the table's TTL deletes by on AWS (dynalite has no TTL, so readers check it too), and
 * `inputDigest`, the digest of the task's name and args: a write conditioned on a task's input
 * compares that string, as a condition cannot compare a list of up to 1,000 args cheaply (and
 * dynalite refuses list equality altogether). Its items and indexes: dynamodb-task-items.ts.
 *
 * It is also the WebhookDeliveryStore of the tasks' completion webhooks, which are recorded on the
 * task's own item (DynamoDbWebhookDeliveries).
 */
export class DynamoDbTaskStore implements TaskStore, WebhookDeliveryStore {
  readonly #items: DynamoDbItems;
  readonly #deliveries: DynamoDbWebhookDeliveries;

  constructor(options: DynamoDbTaskStoreOptions) {
    this.#items = new DynamoDbItems(options.client, options.tableName, 'task store');
    this.#deliveries = new DynamoDbWebhookDeliveries(options);
  }

  async create(task: Task): Promise<void> {
    const item = newItem(task);
    const what = 'record the task';
    await this.#items.send(
      (client, table) =>
        client.send(
          new PutCommand({
            TableName: table,
            Item: item,
            // Ids are random UUIDs; the condition makes a collision an error instead of an overwrite.
            ConditionExpression: 'attribute_not_exists(id)',
          }),
        ),
      {
        what,
        // The SDK retries a write that timed out or failed with a 5xx; when the first attempt was
        // applied after all, the retry meets its own item. That is this task recorded, not a failure.
        onConditionFailed: async (refusal) => {
          const existing = await this.get(task.id);
          if (existing?.owner !== task.owner || existing.createdAt !== task.createdAt || !isSameInput(existing, task)) {
            throw awsUnavailable(`the task store could not ${what}`, refusal);
          }
        },
      },
    );
  }

  /**
   * BatchWriteItem puts, 25 a call and a few calls at once, the same items as `create`. A batch
   * cannot carry a condition, so an id met again is overwritten rather than refused: ids are random
   * UUIDs, where `create`'s condition only guards against the impossible. A call that fails counts
   * all of its items as not recorded (it may have been applied: the caller treats them as unknown);
   * so does one item DynamoDB refuses (over 400 KB, say), for the whole call fails then.
   * https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchWriteItem.html
   */
  async createMany(tasks: readonly Task[]): Promise<ReadonlyMap<string, UnavailableError>> {
    // Every item first: a task that cannot be an item is refused before anything is written.
    const items = tasks.map(newItem);
    const chunks: Record<string, unknown>[][] = [];
    for (let start = 0; start < items.length; start += BATCH_WRITE_SIZE) chunks.push(items.slice(start, start + BATCH_WRITE_SIZE));
    const unrecorded = new Map<string, UnavailableError>();
    await eachConcurrently(chunks, BATCH_WRITE_CONCURRENCY, async (chunk) => {
      const { ids, error } = await this.#writeBatch(chunk);
      for (const id of ids) unrecorded.set(id, error);
    });
    return unrecorded;
  }

  /** One BatchWriteItem and its retries; resolves with the ids left unwritten and why, never rejects. */
  async #writeBatch(items: readonly Record<string, unknown>[]): Promise<{ ids: string[]; error: UnavailableError }> {
    const table = this.#items.table;
    let requests: BatchWriteWriteRequest[] = items.map((Item) => ({ PutRequest: { Item } }));
    let error = new UnavailableError(`the task store left tasks unprocessed after ${BATCH_WRITE_RETRIES} retries`);
    for (let retry = 0; ; retry += 1) {
      try {
        const output = await this.#items.send((client) => client.send(new BatchWriteCommand({ RequestItems: { [table]: requests } })), {
          what: 'record the tasks',
        });
        requests = output.UnprocessedItems?.[table] ?? [];
      } catch (failure) {
        error = failure as UnavailableError;
        break;
      }
      if (requests.length === 0 || retry === BATCH_WRITE_RETRIES) break;
      await backoff(retry, BATCH_WRITE_BACKOFF_MS);
    }
    return { ids: requests.map((request) => request.PutRequest?.Item?.id as string), error };
  }

  async get(id: string): Promise<Task | undefined> {
    const item = await this.#items.get(id, { what: 'read the task' });
    return item && toTask(item);
  }

  async transition(id: string, change: StateChange): Promise<Task | undefined> {
    const update = new Expression();
    // `:to` by name: `npm run bench:trace` reads the state a write sets from it.
    const sets = [`${update.name('state')} = ${update.value(change.to, 'to')}`, `${update.name('updatedAt')} = ${update.value(change.at)}`];
    if (change.result !== undefined) sets.push(`${update.name('resultJson')} = ${update.value(JSON.stringify(change.result))}`);
    if (change.error !== undefined) sets.push(`${update.name('error')} = ${update.value(change.error)}`);
    if (change.progress !== undefined) sets.push(`${update.name('progressJson')} = ${update.value(JSON.stringify(change.progress))}`);
    if (change.requeuedAt !== undefined) sets.push(`${update.name('requeuedAt')} = ${update.value(change.requeuedAt)}`);
    // Indexed only on tasks that carry a notifyShard (those with a callbackUrl); a bare attribute elsewhere.
    if (change.notifyAt !== undefined && isTerminal(change.to)) sets.push(`notifyAt = ${update.value(change.notifyAt)}`);
    // The sparse indexes follow the state: an ended task leaves both; a SCHEDULED task that is
    // queued (to any open state) moves from the due index to the open one. Both shards derive from
    // the id, so setting openShard on a task that already had it changes nothing.
    const removes: string[] = [];
    if (isTerminal(change.to)) {
      removes.push('openShard', 'dueShard');
    } else if (change.from.includes('SCHEDULED') && change.to !== 'SCHEDULED') {
      sets.push(`openShard = ${update.value(openShardOf(id))}`);
      removes.push('dueShard');
    }
    const remove = removes.length > 0 ? ` REMOVE ${removes.join(', ')}` : '';
    const condition = whileIn(update, change.from, change.input, change.at, change.unlessStarted);
    const output = await updateTask(this.#items, id, update, `SET ${sets.join(', ')}${remove}`, condition, 'ALL_NEW');
    return output && toTask(output);
  }

  async saveProgress(id: string, progress: TaskProgress, input: TaskInput): Promise<boolean> {
    const update = new Expression();
    const expression = `SET ${update.name('progressJson')} = ${update.value(JSON.stringify(progress))}`;
    return (await updateTask(this.#items, id, update, expression, whileIn(update, RUNNABLE_STATES, input, progress.at), 'NONE')) !== undefined;
  }

  async markStarted(id: string, at: string, input: TaskInput): Promise<boolean> {
    const update = new Expression();
    const expression = `SET ${update.name('startedAt')} = ${update.value(at)}`;
    return (await updateTask(this.#items, id, update, expression, whileIn(update, RUNNABLE_STATES, input, at), 'NONE')) !== undefined;
  }

  /** Reads a key that is never a task: shows the table answers, for the API's readiness. */
  async ping(): Promise<void> {
    await this.#items.send((client, table) => client.send(new GetCommand({ TableName: table, Key: { id: 'ready#probe' } })), { what: 'be reached' });
  }

  async listOpen(createdBefore: string, limit: number): Promise<string[]> {
    const ids: string[] = [];
    for (let shard = 0; shard < OPEN_SHARDS && ids.length < limit; shard += 1) {
      const query = {
        index: OPEN_TASKS_INDEX,
        keyCondition: 'openShard = :shard AND createdAt <= :bound',
        values: { ':shard': `open#${shard}`, ':bound': createdBefore },
      };
      const items = await this.#items.queryKeys(query, limit - ids.length, { what: 'list open tasks' });
      for (const item of items) ids.push(item.id as string);
    }
    return ids;
  }

  /** SCHEDULED tasks due by `dueBy`, from every shard of the due index, soonest first. */
  async listDue(dueBy: string, limit: number): Promise<string[]> {
    const due = await soonestAcrossShards(this.#items, DUE_TASKS, dueBy, limit, 'list due tasks');
    return due.map((item) => item.id as string);
  }

  /**
   * Reads the owner's index newest first, its filter leaving out expired tasks and those of another
   * state or name, until `limit + 1` match (the one past the page says a next page exists), the
   * index ends, or the read budget is spent: then the page may be short, and `next` is where the
   * read stopped. A filter is applied after the read, so each Query examines about as many items
   * as the matches it still needs would take at the rate seen so far.
   * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Query.FilterExpression.html
   */
  async listByOwner(query: OwnerTaskQuery): Promise<TaskPage> {
    const { owner, state, name, limit, after, nowMs } = query;
    const names: Record<string, string> = { '#owner': 'owner', '#expiresAt': 'expiresAt' };
    // An item expired once `expiresAt * 1000 <= nowMs` (isExpired); expiresAt is whole seconds.
    const values: Record<string, unknown> = { ':owner': owner, ':nowSeconds': Math.floor(nowMs / 1000) };
    const filters = ['#expiresAt > :nowSeconds'];
    if (state !== undefined) {
      names['#state'] = 'state';
      values[':state'] = state;
      filters.push('#state = :state');
    }
    if (name !== undefined) {
      names['#name'] = 'name';
      values[':name'] = name;
      filters.push('#name = :name');
    }
    const wanted = limit + 1;
    const found: Task[] = [];
    let examined = 0;
    let capacity = 0;
    let startKey: Record<string, unknown> | undefined = after && { id: after.id, owner, listKey: listKeyOf(after) };
    do {
      const needed = wanted - found.length;
      const estimate = examined === 0 ? needed : found.length === 0 ? LIST_ITEM_BUDGET : Math.ceil((needed * examined) / found.length);
      const output = await this.#items.send(
        (client, table) =>
          client.send(
            new QueryCommand({
              TableName: table,
              IndexName: OWNER_TASKS_INDEX,
              KeyConditionExpression: '#owner = :owner',
              FilterExpression: filters.join(' AND '),
              ExpressionAttributeNames: names,
              ExpressionAttributeValues: values,
              ScanIndexForward: false,
              ExclusiveStartKey: startKey,
              Limit: Math.min(LIST_ITEM_BUDGET - examined, Math.max(needed, estimate)),
              ReturnConsumedCapacity: 'TOTAL',
            }),
          ),
        { what: "list the owner's tasks" },
      );
      examined += output.ScannedCount ?? 0;
      capacity += output.ConsumedCapacity?.CapacityUnits ?? 0;
      for (const item of output.Items ?? []) found.push(toTask(item));
      startKey = output.LastEvaluatedKey;
    } while (startKey && found.length < wanted && examined < LIST_ITEM_BUDGET && capacity < LIST_CAPACITY_BUDGET);

    if (found.length > limit) {
      const tasks = found.slice(0, limit);
      const last = tasks.at(-1)!;
      return { tasks, next: { createdAt: last.createdAt, id: last.id } };
    }
    // The budget ran out with more of the index to read: go on from the last item examined.
    if (startKey) return { tasks: found, next: positionOf(startKey) };
    return { tasks: found };
  }

  async recordRequeue(id: string, previous: number, at: string): Promise<boolean> {
    const recorded = await this.#items.update(
      {
        Key: { id },
        UpdateExpression: 'SET requeues = :next, requeuedAt = :at',
        // Only while open, and only from the count this sweeper read.
        ConditionExpression:
          previous === 0 ? 'attribute_exists(openShard) AND attribute_not_exists(requeues)' : 'attribute_exists(openShard) AND requeues = :previous',
        ExpressionAttributeValues: { ':next': previous + 1, ':at': at, ...(previous > 0 && { ':previous': previous }) },
      },
      { what: 'record a requeue' },
    );
    return recorded !== undefined;
  }

  claimAttempt(id: string, claim: AttemptClaim): Promise<Task | undefined> {
    return this.#deliveries.claimAttempt(id, claim);
  }

  recordAttempt(id: string, record: AttemptRecord): Promise<boolean> {
    return this.#deliveries.recordAttempt(id, record);
  }

  listDueDeliveries(dueBy: string, limit: number): Promise<DueDelivery[]> {
    return this.#deliveries.listDueDeliveries(dueBy, limit);
  }

  postponeDelivery(id: string, seenNotifyAt: string, notifyAt: string): Promise<boolean> {
    return this.#deliveries.postponeDelivery(id, seenNotifyAt, notifyAt);
  }
}
