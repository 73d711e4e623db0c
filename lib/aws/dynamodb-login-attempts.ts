import { type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { type Admission, type AttemptRule, rollingWindow } from '../auth/login-throttle.ts';
import type { LoginAttemptStore } from '../ports.ts';
import { UnavailableError } from '../errors.ts';
import { DynamoDbItems } from './dynamodb-items.ts';

export interface DynamoDbLoginAttemptsOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
}

/**
 * Rounds of admit: each lost round means another caller changed the item in between. A caller that
 * keeps losing gets UnavailableError (503, retry shortly) rather than looping or being told it
 * guessed too often.
 */
const MAX_ROUNDS = 5;

/**
 * Login attempts in the task table, one item per key: id `login#<key>` (never a task id), and a map
 * `attempts` of attempt id -> epoch ms. A rolling window, kept exact by one conditional write per
 * attempt: an attempt is added only while the map holds fewer than `limit` entries, so at most
 * `limit` attempts of any window are ever in it at once, however many writers race. Entries that
 * have left the window are removed only when the map is full; a right password removes its own.
 * `expiresAt` lets the table's TTL delete an idle key's item. A trusted key is an item of its own
 * whose `expiresAt` says until when.
 */
export class DynamoDbLoginAttempts implements LoginAttemptStore {
  readonly #items: DynamoDbItems;

  constructor(options: DynamoDbLoginAttemptsOptions) {
    this.#items = new DynamoDbItems(options.client, options.tableName, 'login attempt store');
  }

  async admit(key: string, attemptId: string, atMs: number, rule: AttemptRule): Promise<Admission> {
    const id = itemId(key);
    const expiresAt = Math.ceil(atMs / 1000) + rule.windowSeconds;
    for (let round = 0; round < MAX_ROUNDS; round += 1) {
      // The common case: the item exists with room for one more.
      const added = await this.#items.update({
        Key: { id },
        UpdateExpression: 'SET attempts.#attempt = :at, expiresAt = :expiresAt',
        ConditionExpression: 'attribute_exists(attempts) AND size(attempts) < :limit',
        ExpressionAttributeNames: { '#attempt': attemptId },
        ExpressionAttributeValues: { ':at': atMs, ':expiresAt': expiresAt, ':limit': rule.limit },
      });
      if (added) return { admitted: true };

      const attempts = (await this.#items.get(id))?.attempts as Record<string, number> | undefined;
      if (attempts === undefined) {
        // First attempt under this key: a nested path cannot be set before its map exists.
        const created = await this.#items.update({
          Key: { id },
          UpdateExpression: 'SET attempts = :attempts, expiresAt = :expiresAt',
          ConditionExpression: 'attribute_not_exists(attempts)',
          ExpressionAttributeValues: { ':attempts': { [attemptId]: atMs }, ':expiresAt': expiresAt },
        });
        if (created) return { admitted: true };
        continue;
      }
      const { stale, live, retryAfterMs } = rollingWindow(attempts, atMs, rule);
      if (stale.length === 0) {
        // Full, and nothing in it has left the window; else it changed since the refused write.
        if (live >= rule.limit) return { admitted: false, retryAfterMs };
        continue;
      }
      // Removing an entry that a concurrent caller removed first is harmless: REMOVE of a missing
      // map key does nothing.
      await this.#items.removeFromMap(id, 'attempts', stale);
    }
    throw new UnavailableError('the login attempt store is busy with this key; try again shortly');
  }

  async forget(key: string, attemptId: string): Promise<void> {
    await this.#items.removeFromMap(itemId(key), 'attempts', [attemptId]);
  }

  async trust(key: string, untilMs: number): Promise<void> {
    await this.#items.send((client, table) =>
      client.send(new PutCommand({ TableName: table, Item: { id: itemId(key), expiresAt: Math.ceil(untilMs / 1000) } })),
    );
  }

  async isTrusted(key: string, atMs: number): Promise<boolean> {
    const expiresAt = (await this.#items.get(itemId(key)))?.expiresAt;
    return typeof expiresAt === 'number' && expiresAt * 1000 > atMs;
  }
}

function itemId(key: string): string {
  return `login#${key}`;
}
