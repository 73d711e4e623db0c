import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { createHash } from 'node:crypto';
import { type DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { UnavailableError } from '../errors.ts';
import type { StateChange, TaskStore } from '../tasks/ports.ts';
import { type Task, isTerminal, taskInputDigest } from '../tasks/task.ts';

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
    await this.#call('record the task', () =>
      this.#client.send(
        new PutCommand({
          TableName: this.#table,
          Item: { ...task, openShard: shardOf(task.id), inputDigest: taskInputDigest(task) },
          // Ids are random UUIDs; the condition makes a collision an error instead of an overwrite.
          ConditionExpression: 'attribute_not_exists(id)',
        }),
      ),
    );
  }

  async get(id: string): Promise<Task | undefined> {
    const output = await this.#call('read the task', () =>
      this.#client.send(new GetCommand({ TableName: this.#table, Key: { id }, ConsistentRead: true })),
    );
    return output.Item ? toTask(output.Item) : undefined;
  }

  async transition(id: string, change: StateChange): Promise<Task | undefined> {
    const names: Record<string, string> = { '#state': 'state', '#updatedAt': 'updatedAt' };
    const values: Record<string, unknown> = { ':to': change.to, ':at': change.at };
    const sets = ['#state = :to', '#updatedAt = :at'];
    if (change.result !== undefined) {
      names['#result'] = 'result';
      values[':result'] = change.result;
      sets.push('#result = :result');
    }
    if (change.error !== undefined) {
      names['#error'] = 'error';
      values[':error'] = change.error;
      sets.push('#error = :error');
    }
    const remove = isTerminal(change.to) ? ' REMOVE openShard' : '';
    const from = change.from.map((state, index) => {
      values[`:from${index}`] = state;
      return `:from${index}`;
    });
    const conditions = ['attribute_exists(id)', `#state IN (${from.join(', ')})`];
    if (change.input !== undefined) {
      names['#inputDigest'] = 'inputDigest';
      names['#name'] = 'name';
      values[':inputDigest'] = taskInputDigest(change.input);
      values[':name'] = change.input.name;
      // A task recorded before records carried the digest (an API still on the previous release
      // during a deploy) is matched by its name alone, for as long as such tasks live (7 days).
      conditions.push('(#inputDigest = :inputDigest OR (attribute_not_exists(#inputDigest) AND #name = :name))');
    }
    try {
      const output = await this.#call('update the task', () =>
        this.#client.send(
          new UpdateCommand({
            TableName: this.#table,
            Key: { id },
            UpdateExpression: `SET ${sets.join(', ')}${remove}`,
            ConditionExpression: conditions.join(' AND '),
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: values,
            ReturnValues: 'ALL_NEW',
          }),
        ),
      );
      return toTask(output.Attributes ?? {});
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

/** The task without the store's own attributes. */
function toTask(item: Record<string, unknown>): Task {
  const { openShard: _index, inputDigest: _digest, ...task } = item;
  return task as unknown as Task;
}

function isConditionFailure(error: unknown): boolean {
  return error instanceof UnavailableError && error.cause instanceof ConditionalCheckFailedException;
}
