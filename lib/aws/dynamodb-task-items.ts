import { createHash } from 'node:crypto';
import type { ListPosition } from '../ports.ts';
import { toJsonInteger } from '../tasks/exact-integer.ts';
import { type Task, taskInputDigest } from '../tasks/task.ts';
import type { DynamoDbItems } from './dynamodb-items.ts';

/**
 * How a task is kept in the task table: its item, and the indexes it is in (serverless.yml declares
 * them; the local stack creates them from there, local/provision.ts). Every item is keyed by `id`.
 */

/**
 * The sparse index of open tasks: only items that carry `openShard` (set at create, or when a
 * SCHEDULED task is queued; removed when the task ends) are in it, keyed by shard and createdAt,
 * keys only. Spreading open tasks over a few shards keeps any one index partition from running hot;
 * ending a task costs one index write.
 */
export const OPEN_TASKS_INDEX = 'open-tasks';
export const OPEN_SHARDS = 8;

/**
 * The sparse index of SCHEDULED tasks, keyed by shard (`dueShard`, `due#<n>`, the same shard as
 * the task's openShard would be) and `runAt`, keys only: a SCHEDULED task carries `dueShard`
 * instead of `openShard` until it is queued or ends, so the scheduler reads only what is due.
 */
export const DUE_TASKS_INDEX = 'due-tasks';

/**
 * Every task by its owner, newest first: keyed by `owner` and `listKey` (`<createdAt>#<id>`, unique,
 * so tasks created in the same millisecond still have one order and a page boundary between them
 * is exact). It projects the whole item, so a page is one Query and no GetItem per task.
 */
export const OWNER_TASKS_INDEX = 'owner-tasks';

/**
 * The sparse index of completion webhooks still to deliver, keyed by shard (`notifyShard`,
 * `notify#<n>`, given at creation to tasks with a callbackUrl) and `notifyAt` (set when the task
 * ends, moved by every attempt), keys only: an item is in it from its end until its delivery is
 * done, when both are removed. The sweeper reads from it the deliveries whose message was lost and
 * those waiting longer than the queue can delay a message.
 */
export const WEBHOOK_DELIVERIES_INDEX = 'webhook-deliveries';

function shardNumberOf(id: string): number {
  return createHash('sha256').update(id).digest()[0]! % OPEN_SHARDS;
}

export function openShardOf(id: string): string {
  return `open#${shardNumberOf(id)}`;
}

function dueShardOf(id: string): string {
  return `due#${shardNumberOf(id)}`;
}

function notifyShardOf(id: string): string {
  return `notify#${shardNumberOf(id)}`;
}

/** The owner-tasks sort key: creation time, then id, so it is unique and orders ties. */
export function listKeyOf(position: ListPosition): string {
  return `${position.createdAt}#${position.id}`;
}

/**
 * A new task's item: the task, its input digest and its index keys. Every task is in the owner
 * index; a SCHEDULED one is in the due index (it needs its `runAt`), any other in the open index.
 */
export function newItem(task: Task): Record<string, unknown> {
  if (task.state === 'SCHEDULED' && task.runAt === undefined) {
    // Not an AWS failure: a SCHEDULED task without a time would never be found to run.
    throw new TypeError(`task ${task.id} is SCHEDULED without a runAt`);
  }
  return {
    ...toItem(task),
    listKey: listKeyOf(task),
    ...(task.state === 'SCHEDULED' ? { dueShard: dueShardOf(task.id) } : { openShard: openShardOf(task.id) }),
    ...(task.callbackUrl !== undefined && { notifyShard: notifyShardOf(task.id) }),
    inputDigest: taskInputDigest(task),
  };
}

/** A LastEvaluatedKey of the owner index as a list position (listKey is `<createdAt>#<id>`). */
export function positionOf(key: Record<string, unknown>): ListPosition {
  const listKey = key.listKey as string;
  return { createdAt: listKey.slice(0, listKey.indexOf('#')), id: key.id as string };
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
export function toTask(item: Record<string, unknown>): Task {
  const { openShard: _open, dueShard: _due, notifyShard: _notify, notifyAt: _notifyAt, listKey: _list, inputDigest: _digest, argsJson, resultJson, progressJson, args, result, ...task } = item;
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

/** A sparse index of keys only, spread over OPEN_SHARDS shards (`<prefix>#<n>`) and sorted by a time. */
export interface ShardedIndex {
  readonly name: string;
  readonly shardKey: string;
  readonly shardPrefix: string;
  /** The sort key: an ISO time. */
  readonly timeKey: string;
}

export const DUE_TASKS: ShardedIndex = { name: DUE_TASKS_INDEX, shardKey: 'dueShard', shardPrefix: 'due', timeKey: 'runAt' };
export const WEBHOOK_DELIVERIES: ShardedIndex = {
  name: WEBHOOK_DELIVERIES_INDEX,
  shardKey: 'notifyShard',
  shardPrefix: 'notify',
  timeKey: 'notifyAt',
};

/**
 * The items of `index` whose time is at or before `bound` (ISO time), soonest first, at most
 * `limit`: every shard is queried at once and the answers merged, so the soonest come first across
 * shards too. Each shard gives at most `limit`: keys only, a few dozen bytes an item.
 */
export async function soonestAcrossShards(
  items: DynamoDbItems,
  index: ShardedIndex,
  bound: string,
  limit: number,
  what: string,
): Promise<Record<string, unknown>[]> {
  // A Query's Limit must be at least 1.
  if (limit <= 0) return [];
  const shards = await Promise.all(
    Array.from({ length: OPEN_SHARDS }, (_, shard) =>
      items.queryKeys(
        {
          index: index.name,
          keyCondition: `${index.shardKey} = :shard AND ${index.timeKey} <= :bound`,
          values: { ':shard': `${index.shardPrefix}#${shard}`, ':bound': bound },
        },
        limit,
        { what },
      ),
    ),
  );
  const timeOf = (item: Record<string, unknown>) => item[index.timeKey] as string;
  return shards
    .flat()
    .sort((a, b) => (timeOf(a) < timeOf(b) ? -1 : timeOf(a) > timeOf(b) ? 1 : 0))
    .slice(0, limit);
}
