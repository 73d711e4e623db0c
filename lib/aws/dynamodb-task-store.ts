import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { createHash } from 'node:crypto';
import {
  BatchWriteCommand,
  type BatchWriteWriteRequest,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { UnavailableError } from '../errors.ts';
import { backoff, eachConcurrently } from '../concurrency.ts';
import { toJsonInteger } from '../tasks/exact-integer.ts';
import type { ListPosition, OwnerTaskQuery, StateChange, TaskPage, TaskStore } from '../tasks/ports.ts';
import {
  RUNNABLE_STATES,
  TERMINAL_STATES,
  type Task,
  type TaskInput,
  type TaskProgress,
  type TaskState,
  isSameInput,
  isTerminal,
  taskInputDigest,
} from '../tasks/task.ts';
import type { AttemptClaim, AttemptRecord, DueDelivery, WebhookDeliveryStore } from '../webhooks/ports.ts';

/**
 * The sparse index of open tasks: only items that carry `openShard` (set at create, or when a
 * SCHEDULED task is queued; removed when the task ends) are in it, keyed by shard and createdAt,
 * keys only. Spreading open tasks over a few shards keeps any one index partition from running hot;
 * ending a task costs one index write.
 */
export const OPEN_TASKS_INDEX = 'open-tasks';
export const OPEN_SHARDS = 8;

/**
 * The sparse index of SCHEDULED tasks, keyed by shard (`dueShard`, `due#<n>`, the same shard as
 * the task's openShard would be) and `runAt`, keys only: a SCHEDULED task carries `dueShard`
 * instead of `openShard` until it is queued or ends, so the scheduler reads only what is due.
 */
export const DUE_TASKS_INDEX = 'due-tasks';

/**
 * Every task by its owner, newest first: keyed by `owner` and `listKey` (`<createdAt>#<id>`, unique,
 * so tasks created in the same millisecond still have one order and a page boundary between them
 * is exact). It projects the whole item, so a page is one Query and no GetItem per task.
 */
export const OWNER_TASKS_INDEX = 'owner-tasks';

/**
 * The sparse index of completion webhooks still to deliver, keyed by shard (`notifyShard`,
 * `notify#<n>`, given at creation to tasks with a callbackUrl) and `notifyAt` (set when the task
 * ends, moved by every attempt), keys only: an item is in it from its end until its delivery is
 * done, when both are removed. The sweeper reads from it the deliveries whose message was lost and
 * those waiting longer than the queue can delay a message.
 */
export const WEBHOOK_DELIVERIES_INDEX = 'webhook-deliveries';

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

function shardNumberOf(id: string): number {
  return createHash('sha256').update(id).digest()[0]! % OPEN_SHARDS;
}

function shardOf(id: string): string {
  return `open#${shardNumberOf(id)}`;
}

function dueShardOf(id: string): string {
  return `due#${shardNumberOf(id)}`;
}

function notifyShardOf(id: string): string {
  return `notify#${shardNumberOf(id)}`;
}

/** The owner-tasks sort key: creation time, then id, so it is unique and orders ties. */
export function listKeyOf(position: ListPosition): string {
  return `${position.createdAt}#${position.id}`;
}

export interface DynamoDbTaskStoreOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
}

/**
 * Tasks in one DynamoDB table keyed by `id`. Items carry `expiresAt` in epoch seconds, the
 * attribute the table's TTL deletes by on AWS (dynalite has no TTL, so readers check it too), and
 * `inputDigest`, the digest of the task's name and args: a write conditioned on a task's input
 * compares that string, as a condition cannot compare a list of up to 1,000 args cheaply (and
 * dynalite refuses list equality altogether).
 */
export class DynamoDbTaskStore implements TaskStore, WebhookDeliveryStore {
  readonly #client: DynamoDBDocumentClient;
  readonly #table: string;

  constructor(options: DynamoDbTaskStoreOptions) {
    this.#client = options.client;
    this.#table = options.tableName;
  }

  async create(task: Task): Promise<void> {
    const item = newItem(task);
    try {
      await this.#call('record the task', () =>
        this.#client.send(
          new PutCommand({
            TableName: this.#table,
            Item: item,
            // Ids are random UUIDs; the condition makes a collision an error instead of an overwrite.
            ConditionExpression: 'attribute_not_exists(id)',
          }),
        ),
      );
    } catch (error) {
      // The SDK retries a write that timed out or failed with a 5xx; when the first attempt was
      // applied after all, the retry meets its own item. That is this task recorded, not a failure.
      if (!isConditionFailure(error)) throw error;
      const existing = await this.get(task.id);
      if (existing?.owner !== task.owner || existing.createdAt !== task.createdAt || !isSameInput(existing, task)) throw error;
    }
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
    let requests: BatchWriteWriteRequest[] = items.map((Item) => ({ PutRequest: { Item } }));
    let error = new UnavailableError(`the task store left tasks unprocessed after ${BATCH_WRITE_RETRIES} retries`);
    for (let retry = 0; ; retry += 1) {
      try {
        const output = await this.#client.send(new BatchWriteCommand({ RequestItems: { [this.#table]: requests } }));
        requests = output.UnprocessedItems?.[this.#table] ?? [];
      } catch (cause) {
        error = new UnavailableError('the task store could not record the tasks', { cause });
        break;
      }
      if (requests.length === 0 || retry === BATCH_WRITE_RETRIES) break;
      await backoff(retry, BATCH_WRITE_BACKOFF_MS);
    }
    return { ids: requests.map((request) => request.PutRequest?.Item?.id as string), error };
  }

  async get(id: string): Promise<Task | undefined> {
    const output = await this.#call('read the task', () =>
      this.#client.send(new GetCommand({ TableName: this.#table, Key: { id }, ConsistentRead: true })),
    );
    return output.Item ? toTask(output.Item) : undefined;
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
      sets.push(`openShard = ${update.value(shardOf(id))}`);
      removes.push('dueShard');
    }
    const remove = removes.length > 0 ? ` REMOVE ${removes.join(', ')}` : '';
    const condition = whileIn(update, change.from, change.input, change.at, change.unlessStarted);
    const output = await this.#conditionalUpdate(id, update, `SET ${sets.join(', ')}${remove}`, condition, 'ALL_NEW');
    return output && toTask(output);
  }

  async saveProgress(id: string, progress: TaskProgress, input: TaskInput): Promise<boolean> {
    const update = new Expression();
    const expression = `SET ${update.name('progressJson')} = ${update.value(JSON.stringify(progress))}`;
    return (await this.#conditionalUpdate(id, update, expression, whileIn(update, RUNNABLE_STATES, input, progress.at), 'NONE')) !== undefined;
  }

  async markStarted(id: string, at: string, input: TaskInput): Promise<boolean> {
    const update = new Expression();
    const expression = `SET ${update.name('startedAt')} = ${update.value(at)}`;
    return (await this.#conditionalUpdate(id, update, expression, whileIn(update, RUNNABLE_STATES, input, at), 'NONE')) !== undefined;
  }

  /** An UpdateItem under a condition; `undefined` when the condition failed. */
  async #conditionalUpdate(
    id: string,
    update: Expression,
    expression: string,
    condition: string,
    returnValues: 'ALL_NEW' | 'NONE',
  ): Promise<Record<string, unknown> | undefined> {
    try {
      const output = await this.#call('update the task', () =>
        this.#client.send(
          new UpdateCommand({
            TableName: this.#table,
            Key: { id },
            UpdateExpression: expression,
            ConditionExpression: condition,
            // DynamoDB refuses an empty map of names.
            ...(Object.keys(update.names).length > 0 && { ExpressionAttributeNames: update.names }),
            ExpressionAttributeValues: update.values,
            ReturnValues: returnValues,
          }),
        ),
      );
      return output.Attributes ?? {};
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }

  /** The items of one shard of a keys-only index, up to `limit`, page after page. */
  async #queryKeys(
    what: string,
    index: string,
    keyCondition: string,
    values: Record<string, unknown>,
    limit: number,
  ): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const output = await this.#call(what, () =>
        this.#client.send(
          new QueryCommand({
            TableName: this.#table,
            IndexName: index,
            KeyConditionExpression: keyCondition,
            ExpressionAttributeValues: values,
            Limit: limit - items.length,
            ExclusiveStartKey: startKey,
          }),
        ),
      );
      items.push(...(output.Items ?? []));
      startKey = output.LastEvaluatedKey;
    } while (startKey && items.length < limit);
    return items;
  }

  /**
   * Takes up the next attempt of a task's completion webhook: only while the task has ended, its
   * delivery is not done (it still carries notifyShard), no attempt has been recorded since
   * `claim.previous` was read, and no other notifier holds a lease on it. So two messages for one
   * delivery, or two notifiers, make one attempt.
   */
  async claimAttempt(id: string, claim: AttemptClaim): Promise<Task | undefined> {
    const update = new Expression();
    const ended = TERMINAL_STATES.map((state) => update.value(state)).join(', ');
    const conditions = ['attribute_exists(notifyShard)', `${update.name('state')} IN (${ended})`];
    if (claim.previous === undefined) {
      conditions.push('attribute_not_exists(webhook)');
    } else {
      conditions.push(`webhook.attempts = ${update.value(claim.previous.attempts)}`, `webhook.${update.name('state')} = ${update.value('pending')}`);
      conditions.push(`(attribute_not_exists(webhook.leaseUntil) OR webhook.leaseUntil < ${update.value(claim.at)})`);
    }
    const expiry = claim.expiresAt === undefined ? '' : `, ${update.name('expiresAt')} = ${update.value(claim.expiresAt)}`;
    const expression = `SET webhook = ${update.value(claim.next)}, notifyAt = ${update.value(claim.notifyAt)}${expiry}`;
    const output = await this.#conditionalUpdate(id, update, expression, conditions.join(' AND '), 'ALL_NEW');
    return output && toTask(output);
  }

  /**
   * Records how attempt `record.delivery.attempts` went, only while it is still the last one taken
   * up. A delivery that is done (delivered or failed) leaves the webhook index; one to try again
   * stays in it, due at `record.notifyAt`.
   */
  async recordAttempt(id: string, record: AttemptRecord): Promise<boolean> {
    const update = new Expression();
    const condition = `webhook.attempts = ${update.value(record.delivery.attempts)}`;
    const expression =
      record.notifyAt === undefined
        ? `SET webhook = ${update.value(record.delivery)} REMOVE notifyShard, notifyAt`
        : `SET webhook = ${update.value(record.delivery)}, notifyAt = ${update.value(record.notifyAt)}`;
    return (await this.#conditionalUpdate(id, update, expression, condition, 'NONE')) !== undefined;
  }

  /** Deliveries due by `dueBy` (ISO time), from every shard of the webhook index, soonest first. */
  async listDueDeliveries(dueBy: string, limit: number): Promise<DueDelivery[]> {
    if (limit <= 0) return [];
    const shards = await Promise.all(
      Array.from({ length: OPEN_SHARDS }, (_, shard) =>
        this.#queryKeys(
          'list due webhook deliveries',
          WEBHOOK_DELIVERIES_INDEX,
          'notifyShard = :shard AND notifyAt <= :bound',
          { ':shard': `notify#${shard}`, ':bound': dueBy },
          limit,
        ),
      ),
    );
    return shards
      .flat()
      .map((item) => ({ id: item.id as string, notifyAt: item.notifyAt as string }))
      .sort((a, b) => (a.notifyAt < b.notifyAt ? -1 : a.notifyAt > b.notifyAt ? 1 : 0))
      .slice(0, limit);
  }

  /** Moves a delivery's `notifyAt` from the one the sweeper saw; false when it moved (or ended) since. */
  async postponeDelivery(id: string, seenNotifyAt: string, notifyAt: string): Promise<boolean> {
    const update = new Expression();
    const condition = `attribute_exists(notifyShard) AND notifyAt = ${update.value(seenNotifyAt)}`;
    return (await this.#conditionalUpdate(id, update, `SET notifyAt = ${update.value(notifyAt)}`, condition, 'NONE')) !== undefined;
  }

  /** Reads a key that is never a task: shows the table answers, for the API's readiness. */
  async ping(): Promise<void> {
    await this.#call('be reached', () => this.#client.send(new GetCommand({ TableName: this.#table, Key: { id: 'ready#probe' } })));
  }

  async listOpen(createdBefore: string, limit: number): Promise<string[]> {
    const ids: string[] = [];
    for (let shard = 0; shard < OPEN_SHARDS && ids.length < limit; shard += 1) {
      const items = await this.#queryKeys('list open tasks', OPEN_TASKS_INDEX, 'openShard = :shard AND createdAt <= :bound', {
        ':shard': `open#${shard}`,
        ':bound': createdBefore,
      }, limit - ids.length);
      for (const item of items) ids.push(item.id as string);
    }
    return ids;
  }

  /**
   * Queries every shard of the due index at once and merges them, so the soonest come first across
   * shards too. Each shard gives at most `limit`: keys only, a few dozen bytes an item.
   */
  async listDue(dueBy: string, limit: number): Promise<string[]> {
    // A Query's Limit must be at least 1.
    if (limit <= 0) return [];
    const shards = await Promise.all(
      Array.from({ length: OPEN_SHARDS }, (_, shard) =>
        this.#queryKeys('list due tasks', DUE_TASKS_INDEX, 'dueShard = :shard AND runAt <= :bound', { ':shard': `due#${shard}`, ':bound': dueBy }, limit),
      ),
    );
    const due = shards.flat().map((item) => ({ id: item.id as string, runAt: item.runAt as string }));
    return due
      .sort((a, b) => (a.runAt < b.runAt ? -1 : a.runAt > b.runAt ? 1 : 0))
      .slice(0, limit)
      .map((task) => task.id);
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
      const output = await this.#call('list the owner\'s tasks', () =>
        this.#client.send(
          new QueryCommand({
            TableName: this.#table,
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
    try {
      await this.#call('record a requeue', () =>
        this.#client.send(
          new UpdateCommand({
            TableName: this.#table,
            Key: { id },
            UpdateExpression: 'SET requeues = :next, requeuedAt = :at',
            // Only while open, and only from the count this sweeper read.
            ConditionExpression:
              previous === 0
                ? 'attribute_exists(openShard) AND attribute_not_exists(requeues)'
                : 'attribute_exists(openShard) AND requeues = :previous',
            ExpressionAttributeValues: { ':next': previous + 1, ':at': at, ...(previous > 0 && { ':previous': previous }) },
          }),
        ),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  /** Any AWS failure becomes UnavailableError; the cause keeps the SDK error. */
  async #call<T>(what: string, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (error) {
      throw new UnavailableError(`the task store could not ${what}`, { cause: error });
    }
  }
}

/**
 * A new task's item: the task, its input digest and its index keys. Every task is in the owner
 * index; a SCHEDULED one is in the due index (it needs its `runAt`), any other in the open index.
 */
function newItem(task: Task): Record<string, unknown> {
  if (task.state === 'SCHEDULED' && task.runAt === undefined) {
    // Not an AWS failure: a SCHEDULED task without a time would never be found to run.
    throw new TypeError(`task ${task.id} is SCHEDULED without a runAt`);
  }
  return {
    ...toItem(task),
    listKey: listKeyOf(task),
    ...(task.state === 'SCHEDULED' ? { dueShard: dueShardOf(task.id) } : { openShard: shardOf(task.id) }),
    ...(task.callbackUrl !== undefined && { notifyShard: notifyShardOf(task.id) }),
    inputDigest: taskInputDigest(task),
  };
}

/** A LastEvaluatedKey of the owner index as a list position (listKey is `<createdAt>#<id>`). */
function positionOf(key: Record<string, unknown>): ListPosition {
  const listKey = key.listKey as string;
  return { createdAt: listKey.slice(0, listKey.indexOf('#')), id: key.id as string };
}


/**
 * A task as an item. Args, result and progress are any JSON a task defines, kept as JSON text: a
 * DynamoDB number holds 38 digits and refuses 1e-131, and the SDK refuses numbers beyond 2^53, while
 * JSON text keeps exactly what the task gave.
 */
function toItem(task: Task): Record<string, unknown> {
  const { args, result, progress, ...rest } = task;
  return {
    ...rest,
    argsJson: JSON.stringify(args),
    ...(result !== undefined && { resultJson: JSON.stringify(result) }),
    ...(progress !== undefined && { progressJson: JSON.stringify(progress) }),
  };
}

/**
 * The task without the store's own attributes. Items written before tasks were user-defined hold
 * add and mul's args as a list of decimal strings and the result as one; the result is read into
 * today's wire form.
 */
function toTask(item: Record<string, unknown>): Task {
  const { openShard: _open, dueShard: _due, notifyShard: _notify, notifyAt: _notifyAt, listKey: _list, inputDigest: _digest, argsJson, resultJson, progressJson, args, result, ...task } = item;
  return {
    ...task,
    // Legacy args stay as they were written: the record's input digest (and a sweeper's requeue) is over them.
    args: typeof argsJson === 'string' ? JSON.parse(argsJson) : args,
    ...(typeof resultJson === 'string'
      ? { result: JSON.parse(resultJson) }
      : typeof result === 'string' && { result: toJsonInteger(BigInt(result)) }),
    ...(typeof progressJson === 'string' && { progress: JSON.parse(progressJson) }),
  } as unknown as Task;
}

/** Placeholders of one UpdateItem: `#name` and `:value`, numbered so nothing collides. */
class Expression {
  readonly names: Record<string, string> = {};
  readonly values: Record<string, unknown> = {};
  #count = 0;

  name(attribute: string): string {
    const placeholder = `#${attribute}`;
    this.names[placeholder] = attribute;
    return placeholder;
  }

  value(value: unknown, name?: string): string {
    const placeholder = name ? `:${name}` : `:v${this.#count++}`;
    this.values[placeholder] = value;
    return placeholder;
  }
}

/**
 * The condition of every worker write: the task exists, is in one of `from`, and (with `input`)
 * holds that input and has not expired by `at`. A task recorded before records carried the digest (an API still on the
 * previous release during a deploy) is matched by its name alone, for as long as such tasks live.
 */
function whileIn(update: Expression, from: readonly TaskState[], input: TaskInput | undefined, at: string, unlessStarted = false): string {
  const states = from.map((state) => update.value(state)).join(', ');
  const conditions = ['attribute_exists(id)', `${update.name('state')} IN (${states})`];
  if (unlessStarted) {
    conditions.push(`attribute_not_exists(${update.name('startedAt')})`, `attribute_not_exists(${update.name('progressJson')})`);
  }
  if (input !== undefined) {
    // A worker's write, only while the task lives: a message outlives its task (14 days against 7, or
    // less), and a task the API answers 404 for must not run its effects or take a result.
    conditions.push(`${update.name('expiresAt')} > ${update.value(Math.floor(Date.parse(at) / 1000))}`);
    const digest = update.name('inputDigest');
    conditions.push(
      `(${digest} = ${update.value(taskInputDigest(input))} OR (attribute_not_exists(${digest}) AND ${update.name('name')} = ${update.value(input.name)}))`,
    );
  }
  return conditions.join(' AND ');
}

function isConditionFailure(error: unknown): boolean {
  return error instanceof UnavailableError && error.cause instanceof ConditionalCheckFailedException;
}
