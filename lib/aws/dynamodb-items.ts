import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, UpdateCommand, type UpdateCommandInput } from '@aws-sdk/lib-dynamodb';
import { UnavailableError } from '../errors.ts';

/**
 * Items of the task table read and written one key at a time, for the adapters that keep an item
 * per key beside the tasks (login attempts, request rates, open-task slots). A refused condition is
 * a result, not an error; any other AWS failure is an UnavailableError that says which store failed.
 */
export class DynamoDbItems {
  readonly #client: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #unavailable: string;

  /** `store` names it in errors: "the <store> is unavailable". */
  constructor(client: DynamoDBDocumentClient, tableName: string, store: string) {
    this.#client = client;
    this.#table = tableName;
    this.#unavailable = `the ${store} is unavailable`;
  }

  /** The table's name, for the calls that key their answers by it (BatchGetItem). */
  get table(): string {
    return this.#table;
  }

  /** A strongly consistent read of one item; `projection` limits it to some attributes. */
  async get(id: string, projection?: string): Promise<Record<string, unknown> | undefined> {
    const output = await this.send((client, table) =>
      client.send(new GetCommand({ TableName: table, Key: { id }, ConsistentRead: true, ...(projection && { ProjectionExpression: projection }) })),
    );
    return output.Item;
  }

  /** A conditional update: its `Attributes` (empty without ReturnValues), or undefined when the condition failed. */
  async update(input: Omit<UpdateCommandInput, 'TableName'>): Promise<Record<string, unknown> | undefined> {
    try {
      const output = await this.send((client, table) => client.send(new UpdateCommand({ TableName: table, ...input })));
      return output.Attributes ?? {};
    } catch (error) {
      if (error instanceof UnavailableError && error.cause instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
  }

  /** Any other call on the table, its failures mapped as the others'. */
  async send<T>(call: (client: DynamoDBDocumentClient, table: string) => Promise<T>): Promise<T> {
    try {
      return await call(this.#client, this.#table);
    } catch (error) {
      if (error instanceof UnavailableError) throw error;
      throw new UnavailableError(this.#unavailable, { cause: error });
    }
  }
}
