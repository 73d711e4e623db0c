import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { UnavailableError } from '../errors.ts';
import { DynamoDbItems } from './dynamodb-items.ts';
import type { RequestRateStore } from '../ports.ts';
import { type GcraWrites, type RateDecision, type UserLimits, admittedDecision, gcraWrites, takeToken } from '../limits/user-limits.ts';

export interface DynamoDbRequestRatesOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
}

/**
 * Rounds of take: a round is lost only when the bucket changed between our refused writes and our
 * read of it (it moved from idle to busy). A caller that keeps losing gets UnavailableError (503,
 * retry shortly) rather than looping.
 */
const MAX_ROUNDS = 3;

/** Users whose last seen `tat` this process remembers; the least recently seen are forgotten first. */
const REMEMBERED_USERS = 10_000;

type Variant = 'idle' | 'busy';

/**
 * Request rates in the task table, one GCRA bucket per user: id `rate#<user>` (never a task id)
 * with `tat` (epoch ms, to the microsecond) and `expiresAt` (epoch seconds, when the bucket is full
 * again, for the table's TTL). No read in the common case: a request is one conditional write,
 * `idle` (`SET tat = now + T` on a full or new bucket) or `busy` (`SET tat = tat + T` while a token
 * is left), each admitting exactly what the GCRA admits however many writers race (user-limits.ts).
 *
 * The process remembers the last `tat` it saw per user, to try the right write first: `busy` when
 * that `tat` is still ahead, else `idle`. Since `tat` only grows, a remembered `tat` past the
 * bucket's bound proves it empty: such a request is refused with no call at all, so a user who
 * hammers a full bucket costs nothing. Otherwise both writes refused means empty (or changed in
 * between): a consistent read tells which, and gives the refusal its Retry-After.
 */
export class DynamoDbRequestRates implements RequestRateStore {
  readonly #items: DynamoDbItems;
  readonly #lastTat = new Map<string, number>();

  constructor(options: DynamoDbRequestRatesOptions) {
    this.#items = new DynamoDbItems(options.client, options.tableName, 'request rate store');
  }

  async take(user: string, nowMs: number, limits: UserLimits): Promise<RateDecision> {
    const id = itemId(user);
    const writes = gcraWrites(nowMs, limits);
    let seen = this.#lastTat.get(user);
    for (let round = 0; round < MAX_ROUNDS; round += 1) {
      if (seen !== undefined) {
        const known = takeToken(seen, nowMs, limits);
        if (!known.decision.admitted) return known.decision;
      }
      const order: Variant[] = seen !== undefined && seen > writes.busy.now ? ['busy', 'idle'] : ['idle', 'busy'];
      for (const variant of order) {
        const tat = await this.#write(id, variant, writes);
        if (tat !== undefined) {
          this.#remember(user, tat);
          return admittedDecision(tat, nowMs, limits);
        }
      }
      seen = await this.#readTat(id);
      if (seen === undefined) continue;
      this.#remember(user, seen);
      const { decision } = takeToken(seen, nowMs, limits);
      if (!decision.admitted) return decision;
    }
    throw new UnavailableError('the request rate store is busy with this user; try again shortly');
  }

  /** One of the two admitting writes; the bucket's new `tat`, or undefined when its condition failed. */
  async #write(id: string, variant: Variant, writes: GcraWrites): Promise<number | undefined> {
    const input =
      variant === 'idle'
        ? {
            UpdateExpression: 'SET tat = :tat, expiresAt = :expiresAt',
            ConditionExpression: 'attribute_not_exists(tat) OR tat <= :now',
            ExpressionAttributeValues: { ':tat': writes.idle.tat, ':now': writes.idle.now, ':expiresAt': writes.expiresAt },
          }
        : {
            // DynamoDB adds decimals exactly, so `tat` stays a whole number of microseconds.
            UpdateExpression: 'SET tat = tat + :interval, expiresAt = :expiresAt',
            ConditionExpression: 'tat > :now AND tat <= :bound',
            ExpressionAttributeValues: {
              ':interval': writes.busy.interval,
              ':now': writes.busy.now,
              ':bound': writes.busy.bound,
              ':expiresAt': writes.expiresAt,
            },
          };
    const written = await this.#items.update({ Key: { id }, ReturnValues: 'UPDATED_NEW', ...input });
    return written?.tat as number | undefined;
  }

  async #readTat(id: string): Promise<number | undefined> {
    const tat = (await this.#items.get(id, { projection: 'tat' }))?.tat;
    return typeof tat === 'number' ? tat : undefined;
  }

  #remember(user: string, tat: number): void {
    // Delete first, so the Map's insertion order is the order of last use.
    this.#lastTat.delete(user);
    this.#lastTat.set(user, tat);
    if (this.#lastTat.size > REMEMBERED_USERS) this.#lastTat.delete(this.#lastTat.keys().next().value!);
  }
}

function itemId(user: string): string {
  return `rate#${user}`;
}
