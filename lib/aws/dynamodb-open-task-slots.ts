import { BatchGetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { backoff, eachConcurrently } from '../concurrency.ts';
import { UnavailableError } from '../errors.ts';
import { DynamoDbItems } from './dynamodb-items.ts';
import type { OpenTaskSlots, SlotReservation, SlotTask } from '../ports.ts';
import { TERMINAL_STATES, type TaskState } from '../tasks/task.ts';

export interface DynamoDbOpenTaskSlotsOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
}

/**
 * Rounds of reserve: a round is lost when the map changed between our refused write and our read
 * (slots were released, or stale ones cleared by another caller). A caller that keeps losing gets
 * UnavailableError (503, retry shortly) rather than looping or being told the owner is full.
 */
const MAX_ROUNDS = 4;

/**
 * Ids per call: one reserve is one UpdateItem (all or none), whose expression must stay within
 * DynamoDB's 4 KB (100 `slots.#tNN = :eNN` actions are about 2 KB); BatchGetItem takes 100 keys.
 */
export const MAX_SLOT_IDS_PER_CALL = 100;

/**
 * How long a slot whose task item does not exist yet is kept: the API reserves slots before it
 * records the tasks, so a refused caller that reads the map in between must not take the fresh
 * slots for lost ones. Three times the API function's timeout (10 s): a reservation older than that
 * whose task is missing belongs to a request that died. Measured from the owner's latest
 * reservation (`lastReservedMs`), the one time the item keeps: no slot can be younger.
 */
export const MISSING_TASK_GRACE_MS = 30_000;

/**
 * How often one process checks an owner's slots against their tasks when refusing: the check reads
 * every slot's task item (1,000 slots are 1,000 consistent reads), and a user at the ceiling may
 * retry in a loop. Lost releases are rare, and each is healed within this time.
 */
const STATE_CHECK_INTERVAL_MS = 1_000;

/** BatchGetItem calls in flight at once, and its unprocessed keys' retries (as the task store's BatchWriteItem). */
const BATCH_GET_CONCURRENCY = 4;
const BATCH_GET_RETRIES = 5;
const BATCH_GET_BACKOFF_MS = 20;

/** Owners whose last state check this process remembers; the oldest are forgotten first. */
const REMEMBERED_OWNERS = 10_000;

/**
 * Open-task slots in the task table, one item per owner: id `open#<owner>` (never a task id) with a
 * map `slots` of task id -> the task's `expiresAt` (epoch seconds) and `lastReservedMs`, when its
 * latest reservation was made. A reservation is one conditional write that adds every id of the
 * batch only while the map has room for all of them (`size(slots) <= limit - n`), so an owner never
 * holds more than `limit` slots however many callers race; a release removes ids (a missing one is
 * no change).
 *
 * Slots are cleared only on a refusal, and only stale ones: a task expired, ended (SUCCESS,
 * FAILURE, CANCELLED) or absent (past MISSING_TASK_GRACE_MS). That heals a release that was lost (a
 * worker that died after ending its task) without a sweeper. The item has no `expiresAt`: the
 * table's TTL must never drop slots still held; an owner's empty map is a few bytes.
 */
export class DynamoDbOpenTaskSlots implements OpenTaskSlots {
  readonly #items: DynamoDbItems;
  readonly #checkedAt = new Map<string, number>();

  constructor(options: DynamoDbOpenTaskSlotsOptions) {
    this.#items = new DynamoDbItems(options.client, options.tableName, 'open task store');
  }

  async reserve(owner: string, tasks: readonly SlotTask[], limit: number, nowMs: number): Promise<SlotReservation> {
    // The same id twice would make two overlapping paths in one expression, which DynamoDB refuses.
    const batch = new Map(tasks.map((task) => [task.id, task.expiresAt]));
    if (batch.size === 0) return { admitted: true };
    if (batch.size > MAX_SLOT_IDS_PER_CALL) {
      throw new RangeError(`at most ${MAX_SLOT_IDS_PER_CALL} tasks can be reserved at once, not ${batch.size}`);
    }
    const id = itemId(owner);
    const names = Object.fromEntries([...batch.keys()].map((taskId, index) => [`#t${index}`, taskId]));
    const values = Object.fromEntries([...batch.values()].map((expiresAt, index) => [`:e${index}`, expiresAt]));
    for (let round = 0; round < MAX_ROUNDS; round += 1) {
      // The common case: the map exists with room for the whole batch.
      const added = await this.#items.update({
        Key: { id },
        UpdateExpression: `SET ${Object.keys(names).map((name, index) => `slots.${name} = :e${index}`).join(', ')}, lastReservedMs = :now`,
        ConditionExpression: 'size(slots) <= :room',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: { ...values, ':now': nowMs, ':room': limit - batch.size },
      });
      if (added) return { admitted: true };

      const item = await this.#items.get(id);
      const slots = item?.slots as Record<string, number> | undefined;
      if (slots === undefined) {
        if (batch.size > limit) return { admitted: false, open: 0 };
        // The owner's first reservation: a nested path cannot be set before its map exists.
        const created = await this.#items.update({
          Key: { id },
          UpdateExpression: 'SET slots = :slots, lastReservedMs = :now',
          ConditionExpression: 'attribute_not_exists(slots)',
          ExpressionAttributeValues: { ':slots': Object.fromEntries(batch), ':now': nowMs },
        });
        if (created) return { admitted: true };
        continue;
      }
      // Already ours: a write the SDK retried after it had been applied (every id is set together).
      if ([...batch.keys()].every((taskId) => Object.hasOwn(slots, taskId))) return { admitted: true };
      const lastReservedMs = typeof item?.lastReservedMs === 'number' ? item.lastReservedMs : undefined;
      const stale = await this.#staleSlots(owner, slots, lastReservedMs, nowMs);
      const open = Object.keys(slots).length - stale.length;
      await this.#remove(id, stale);
      // Full even without its stale slots: the answer. Else there is room now, or was made since.
      if (open + batch.size > limit) return { admitted: false, open };
    }
    throw new UnavailableError('the open task store is busy with this owner; try again shortly');
  }

  async release(owner: string, taskIds: readonly string[]): Promise<void> {
    await this.#remove(itemId(owner), [...new Set(taskIds)]);
  }

  /**
   * The slots that no longer stand for an open task: expired ones (no read needed), and, at most
   * once per STATE_CHECK_INTERVAL_MS per owner in this process, those whose task has ended or, past
   * the grace, does not exist.
   */
  async #staleSlots(owner: string, slots: Record<string, number>, lastReservedMs: number | undefined, nowMs: number): Promise<string[]> {
    const entries = Object.entries(slots);
    // As isExpired: a task is expired once `expiresAt * 1000 <= now`.
    const stale = entries.filter(([, expiresAt]) => expiresAt * 1000 <= nowMs).map(([taskId]) => taskId);
    const checkedAt = this.#checkedAt.get(owner);
    if (checkedAt !== undefined && nowMs >= checkedAt && nowMs - checkedAt < STATE_CHECK_INTERVAL_MS) return stale;
    this.#checkedAt.delete(owner);
    this.#checkedAt.set(owner, nowMs);
    if (this.#checkedAt.size > REMEMBERED_OWNERS) this.#checkedAt.delete(this.#checkedAt.keys().next().value!);

    const expired = new Set(stale);
    const states = await this.#states(entries.map(([taskId]) => taskId).filter((taskId) => !expired.has(taskId)));
    const pastGrace = lastReservedMs === undefined || nowMs - lastReservedMs >= MISSING_TASK_GRACE_MS;
    for (const [taskId] of entries) {
      if (expired.has(taskId)) continue;
      const state = states.get(taskId);
      if (state === undefined ? pastGrace : TERMINAL_STATES.includes(state)) stale.push(taskId);
    }
    return stale;
  }

  /** The state of each task item that exists, by consistent reads (a task recorded a moment ago counts). */
  async #states(taskIds: readonly string[]): Promise<Map<string, TaskState>> {
    const states = new Map<string, TaskState>();
    const chunks = chunked(taskIds, MAX_SLOT_IDS_PER_CALL);
    await eachConcurrently(chunks, BATCH_GET_CONCURRENCY, async (chunk) => {
      let keys: Record<string, unknown>[] = chunk.map((taskId) => ({ id: taskId }));
      for (let retry = 0; ; retry += 1) {
        const output = await this.#items.send((client, table) =>
          client.send(
            new BatchGetCommand({
              RequestItems: {
                [table]: {
                  Keys: keys,
                  ProjectionExpression: 'id, #state',
                  ExpressionAttributeNames: { '#state': 'state' },
                  ConsistentRead: true,
                },
              },
            }),
          ),
        );
        for (const item of output.Responses?.[this.#items.table] ?? []) states.set(item.id as string, item.state as TaskState);
        keys = output.UnprocessedKeys?.[this.#items.table]?.Keys ?? [];
        if (keys.length === 0) return;
        // Unread keys would count as missing tasks, their slots as lost: never guess, fail instead.
        if (retry === BATCH_GET_RETRIES) throw new UnavailableError('the open task store could not read the tasks of a full owner');
        await backoff(retry, BATCH_GET_BACKOFF_MS);
      }
    });
    return states;
  }

  /** Removes slots, 100 a call; missing ones and a missing map are no change. */
  async #remove(id: string, taskIds: readonly string[]): Promise<void> {
    // A new owner's REMOVE creates no item: removeFromMap's condition is that the map exists.
    for (const chunk of chunked(taskIds, MAX_SLOT_IDS_PER_CALL)) await this.#items.removeFromMap(id, 'slots', chunk);
  }
}

function itemId(owner: string): string {
  return `open#${owner}`;
}

function chunked<T>(items: readonly T[], size: number): T[][] {
  return Array.from({ length: Math.ceil(items.length / size) }, (_, index) => items.slice(index * size, (index + 1) * size));
}
