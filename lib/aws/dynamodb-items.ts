import type { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, QueryCommand, UpdateCommand, type UpdateCommandInput } from '@aws-sdk/lib-dynamodb';
import { callAws } from './aws-errors.ts';

/** What one call is, for its error: it completes "the <store> could not …" (else "the <store> is unavailable"). */
export interface CallOptions {
  readonly what?: string;
}

/** A Query of one partition of a keys-only index. */
export interface IndexQuery {
  readonly index: string;
  readonly keyCondition: string;
  readonly values: Record<string, unknown>;
}

/**
 * Items of the task table, for every adapter that keeps items in it: the tasks, and the items kept
 * per key beside them (idempotency claims, login attempts, request rates, open-task slots). Its
 * failures are mapped by lib/aws/aws-errors.ts: a refused condition is a result where the caller
 * says so (`update` resolves undefined), any other AWS failure an UnavailableError that says which
 * store failed.
 */
export class DynamoDbItems {
  readonly #client: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #store: string;

  /** `store` names it in errors: "the <store> could not …". */
  constructor(client: DynamoDBDocumentClient, tableName: string, store: string) {
    this.#client = client;
    this.#table = tableName;
    this.#store = store;
  }

  /** The table's name, for the calls that key their answers by it (BatchGetItem, BatchWriteItem). */
  get table(): string {
    return this.#table;
  }

  /** A strongly consistent read of one item; `projection` limits it to some attributes. */
  async get(id: string, options: CallOptions & { readonly projection?: string } = {}): Promise<Record<string, unknown> | undefined> {
    const { projection } = options;
    const output = await this.send(
      (client, table) =>
        client.send(new GetCommand({ TableName: table, Key: { id }, ConsistentRead: true, ...(projection && { ProjectionExpression: projection }) })),
      options,
    );
    return output.Item;
  }

  /** A conditional update: its `Attributes` (empty without ReturnValues), or undefined when the condition failed. */
  async update(input: Omit<UpdateCommandInput, 'TableName'>, options: CallOptions = {}): Promise<Record<string, unknown> | undefined> {
    const output = await this.send((client, table) => client.send(new UpdateCommand({ TableName: table, ...input })), {
      ...options,
      onConditionFailed: () => undefined,
    });
    return output && (output.Attributes ?? {});
  }

  /**
   * Removes `keys` from the map `attribute` of item `id`, under the condition that the map exists,
   * so a REMOVE never creates an item without one. A key that is not there, or a map that is not,
   * is no change.
   */
  async removeFromMap(id: string, attribute: string, keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    const names = Object.fromEntries(keys.map((key, index) => [`#k${index}`, key]));
    await this.update({
      Key: { id },
      UpdateExpression: `REMOVE ${Object.keys(names).map((name) => `${attribute}.${name}`).join(', ')}`,
      ConditionExpression: `attribute_exists(${attribute})`,
      ExpressionAttributeNames: names,
    });
  }

  /** The items of one partition of a keys-only index, up to `limit`, page after page. */
  async queryKeys(query: IndexQuery, limit: number, options: CallOptions = {}): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const output = await this.send(
        (client, table) =>
          client.send(
            new QueryCommand({
              TableName: table,
              IndexName: query.index,
              KeyConditionExpression: query.keyCondition,
              ExpressionAttributeValues: query.values,
              Limit: limit - items.length,
              ExclusiveStartKey: startKey,
            }),
          ),
        options,
      );
      items.push(...(output.Items ?? []));
      startKey = output.LastEvaluatedKey;
    } while (startKey && items.length < limit);
    return items;
  }

  /**
   * Any other call on the table, its failures mapped as the others' (callAws): with
   * `onConditionFailed`, a refused condition resolves with what it returns.
   */
  async send<T, R = never>(
    call: (client: DynamoDBDocumentClient, table: string) => Promise<T>,
    options: CallOptions & { readonly onConditionFailed?: (refusal: ConditionalCheckFailedException) => R | Promise<R> } = {},
  ): Promise<T | R> {
    const message = options.what === undefined ? `the ${this.#store} is unavailable` : `the ${this.#store} could not ${options.what}`;
    return callAws(message, () => call(this.#client, this.#table), options.onConditionFailed);
  }
}
