import { DeleteCommand, type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { LoginAttemptStore } from '../auth/login-throttle.ts';
import { UnavailableError } from '../errors.ts';

export interface DynamoDbLoginAttemptsOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
}

/**
 * Failed-login counters in the task table, one item per user and window: id `login#<key>#<end>`,
 * which can never be a task id. `expiresAt` lets the table's TTL delete spent windows on AWS.
 */
export class DynamoDbLoginAttempts implements LoginAttemptStore {
  readonly #client: DynamoDBDocumentClient;
  readonly #table: string;

  constructor(options: DynamoDbLoginAttemptsOptions) {
    this.#client = options.client;
    this.#table = options.tableName;
  }

  async failures(key: string, windowEndsAt: number): Promise<number> {
    const output = await this.#call(() =>
      this.#client.send(new GetCommand({ TableName: this.#table, Key: { id: itemId(key, windowEndsAt) }, ConsistentRead: true })),
    );
    return (output.Item?.failures as number | undefined) ?? 0;
  }

  async addFailure(key: string, windowEndsAt: number): Promise<number> {
    const output = await this.#call(() =>
      this.#client.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: { id: itemId(key, windowEndsAt) },
          // ADD is atomic: concurrent failures on several API instances all count.
          UpdateExpression: 'ADD failures :one SET expiresAt = :expiresAt',
          ExpressionAttributeValues: { ':one': 1, ':expiresAt': windowEndsAt },
          ReturnValues: 'UPDATED_NEW',
        }),
      ),
    );
    return output.Attributes?.failures as number;
  }

  async clear(key: string, windowEndsAt: number): Promise<void> {
    await this.#call(() => this.#client.send(new DeleteCommand({ TableName: this.#table, Key: { id: itemId(key, windowEndsAt) } })));
  }

  async #call<T>(send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (error) {
      throw new UnavailableError('the login attempt store is unavailable', { cause: error });
    }
  }
}

function itemId(key: string, windowEndsAt: number): string {
  return `login#${key}#${windowEndsAt}`;
}
