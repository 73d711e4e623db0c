import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { UnavailableError } from '../errors.ts';
import type { StateChange, TaskStore } from '../tasks/ports.ts';
import type { Task } from '../tasks/task.ts';

export interface DynamoDbTaskStoreOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
}

/**
 * Tasks in one DynamoDB table keyed by `id`. Items carry `expiresAt` in epoch seconds, the
 * attribute the table's TTL deletes by on AWS (dynalite has no TTL, so readers check it too).
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
          Item: task,
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
    return output.Item as Task | undefined;
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
    const from = change.from.map((state, index) => {
      values[`:from${index}`] = state;
      return `:from${index}`;
    });
    try {
      const output = await this.#call('update the task', () =>
        this.#client.send(
          new UpdateCommand({
            TableName: this.#table,
            Key: { id },
            UpdateExpression: `SET ${sets.join(', ')}`,
            ConditionExpression: `attribute_exists(id) AND #state IN (${from.join(', ')})`,
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: values,
            ReturnValues: 'ALL_NEW',
          }),
        ),
      );
      return output.Attributes as Task;
    } catch (error) {
      if (error instanceof UnavailableError && error.cause instanceof ConditionalCheckFailedException) {
        return undefined;
      }
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
