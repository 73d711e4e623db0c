import { DeleteCommand, type DynamoDBDocumentClient, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { IdempotencyClaim } from '../tasks/idempotency.ts';
import type { IdempotencyStore } from '../ports.ts';
import { DynamoDbItems } from './dynamodb-items.ts';

export interface DynamoDbIdempotencyStoreOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
}

/**
 * Idempotency claims in the task table, one item per user and key (id `idem#<sha256>`, never a
 * task id). Exactly one request wins a key because the claim is a conditional PutItem; a failed
 * condition is a result (`'taken'`), not an error. `expiresAt` lets the table's TTL delete spent
 * claims on AWS; TTL deletes lazily (and dynalite not at all), so the condition checks it too.
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.ConditionExpressions.html
 */
export class DynamoDbIdempotencyStore implements IdempotencyStore {
  readonly #items: DynamoDbItems;

  constructor(options: DynamoDbIdempotencyStoreOptions) {
    this.#items = new DynamoDbItems(options.client, options.tableName, 'idempotency store');
  }

  async claim(claim: IdempotencyClaim, options: { nowMs: number; replacing?: string }): Promise<'claimed' | 'taken'> {
    const values: Record<string, unknown> = { ':now': Math.floor(options.nowMs / 1000) };
    let condition = 'attribute_not_exists(id) OR expiresAt <= :now';
    if (options.replacing !== undefined) {
      values[':replacing'] = options.replacing;
      condition += ' OR taskId = :replacing';
    }
    return this.#conditional('claim the idempotency key', 'claimed', 'taken', (client, table) =>
      client.send(
        new PutCommand({
          TableName: table,
          Item: claim,
          ConditionExpression: condition,
          ExpressionAttributeValues: values,
        }),
      ),
    );
  }

  async get(id: string): Promise<IdempotencyClaim | undefined> {
    return (await this.#items.get(id, { what: 'read the key' })) as IdempotencyClaim | undefined;
  }

  async release(id: string, taskId: string): Promise<boolean> {
    return this.#conditional('release the idempotency key', true, false, (client, table) =>
      client.send(
        new DeleteCommand({
          TableName: table,
          Key: { id },
          // Never delete a claim that another request has taken over since.
          ConditionExpression: 'taskId = :taskId',
          ExpressionAttributeValues: { ':taskId': taskId },
        }),
      ),
    );
  }

  async settle(id: string, taskId: string, notAccepted: readonly number[]): Promise<boolean> {
    return this.#conditional('settle the idempotency key', true, false, (client, table) =>
      client.send(
        new UpdateCommand({
          TableName: table,
          Key: { id },
          UpdateExpression: 'SET settled = :settled',
          ConditionExpression: 'taskId = :taskId',
          ExpressionAttributeValues: { ':settled': [...notAccepted], ':taskId': taskId },
        }),
      ),
    );
  }

  /** A failed condition becomes `failed`; any other AWS failure becomes UnavailableError. */
  async #conditional<T>(what: string, passed: T, failed: T, send: (client: DynamoDBDocumentClient, table: string) => Promise<unknown>): Promise<T> {
    const call = async (client: DynamoDBDocumentClient, table: string) => {
      await send(client, table);
      return passed;
    };
    return this.#items.send(call, { what, onConditionFailed: () => failed });
  }
}
