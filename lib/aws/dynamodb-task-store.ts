import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { createHash } from 'node:crypto';
import { type DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { UnavailableError } from '../errors.ts';
import { toJsonInteger } from '../tasks/exact-integer.ts';
import type { StateChange, TaskStore } from '../tasks/ports.ts';
import { RUNNABLE_STATES, type Task, type TaskInput, type TaskProgress, type TaskState, isSameInput, isTerminal, taskInputDigest } from '../tasks/task.ts';

/**
 * The sparse index of open tasks: only items that carry `openShard` (set at create, removed when the
 * task ends) are in it, keyed by shard and createdAt, keys only. Spreading open tasks over a few
 * shards keeps any one index partition from running hot; ending a task costs one index write.
 */
export const OPEN_TASKS_INDEX = 'open-tasks';
export const OPEN_SHARDS = 8;

function shardOf(id: string): string {
  return `open#${createHash('sha256').update(id).digest()[0]! % OPEN_SHARDS}`;
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
export class DynamoDbTaskStore implements TaskStore {
  readonly #client: DynamoDBDocumentClient;
  readonly #table: string;

  constructor(options: DynamoDbTaskStoreOptions) {
    this.#client = options.client;
    this.#table = options.tableName;
  }

  async create(task: Task): Promise<void> {
    try {
      await this.#call('record the task', () =>
        this.#client.send(
          new PutCommand({
            TableName: this.#table,
            Item: { ...toItem(task), openShard: shardOf(task.id), inputDigest: taskInputDigest(task) },
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
    const remove = isTerminal(change.to) ? ' REMOVE openShard' : '';
    const condition = whileIn(update, change.from, change.input, change.unlessStarted);
    const output = await this.#conditionalUpdate(id, update, `SET ${sets.join(', ')}${remove}`, condition, 'ALL_NEW');
    return output && toTask(output);
  }

  async saveProgress(id: string, progress: TaskProgress, input: TaskInput): Promise<boolean> {
    const update = new Expression();
    const expression = `SET ${update.name('progressJson')} = ${update.value(JSON.stringify(progress))}`;
    return (await this.#conditionalUpdate(id, update, expression, whileIn(update, RUNNABLE_STATES, input), 'NONE')) !== undefined;
  }

  async markStarted(id: string, at: string, input: TaskInput): Promise<boolean> {
    const update = new Expression();
    const expression = `SET ${update.name('startedAt')} = ${update.value(at)}`;
    return (await this.#conditionalUpdate(id, update, expression, whileIn(update, RUNNABLE_STATES, input), 'NONE')) !== undefined;
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
            ExpressionAttributeNames: update.names,
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

  /** Reads a key that is never a task: shows the table answers, for the API's readiness. */
  async ping(): Promise<void> {
    await this.#call('be reached', () => this.#client.send(new GetCommand({ TableName: this.#table, Key: { id: 'ready#probe' } })));
  }

  async listOpen(createdBefore: string, limit: number): Promise<string[]> {
    const ids: string[] = [];
    for (let shard = 0; shard < OPEN_SHARDS && ids.length < limit; shard += 1) {
      let startKey: Record<string, unknown> | undefined;
      do {
        const output = await this.#call('list open tasks', () =>
          this.#client.send(
            new QueryCommand({
              TableName: this.#table,
              IndexName: OPEN_TASKS_INDEX,
              KeyConditionExpression: 'openShard = :shard AND createdAt <= :before',
              ExpressionAttributeValues: { ':shard': `open#${shard}`, ':before': createdBefore },
              Limit: limit - ids.length,
              ExclusiveStartKey: startKey,
            }),
          ),
        );
        for (const item of output.Items ?? []) ids.push(item.id as string);
        startKey = output.LastEvaluatedKey;
      } while (startKey && ids.length < limit);
    }
    return ids;
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
  const { openShard: _index, inputDigest: _digest, argsJson, resultJson, progressJson, args, result, ...task } = item;
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
 * holds that input. A task recorded before records carried the digest (an API still on the
 * previous release during a deploy) is matched by its name alone, for as long as such tasks live.
 */
function whileIn(update: Expression, from: readonly TaskState[], input: TaskInput | undefined, unlessStarted = false): string {
  const states = from.map((state) => update.value(state)).join(', ');
  const conditions = ['attribute_exists(id)', `${update.name('state')} IN (${states})`];
  if (unlessStarted) {
    conditions.push(`attribute_not_exists(${update.name('startedAt')})`, `attribute_not_exists(${update.name('progressJson')})`);
  }
  if (input !== undefined) {
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
