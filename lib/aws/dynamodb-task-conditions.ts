import { type TaskInput, type TaskState, taskInputDigest } from '../tasks/task.ts';
import type { DynamoDbItems } from './dynamodb-items.ts';

/**
 * The expressions of the task table's conditional writes: the placeholders one UpdateItem needs, and
 * the condition every worker write is made under.
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.ConditionExpressions.html
 */

/** Placeholders of one UpdateItem: `#name` and `:value`, numbered so nothing collides. */
export class Expression {
  readonly names: Record<string, string> = {};
  readonly values: Record<string, unknown> = {};
  #count = 0;

  name(attribute: string): string {
    const placeholder = `#${attribute}`;
    this.names[placeholder] = attribute;
    return placeholder;
  }

  value(value: unknown, name?: string): string {
    const placeholder = name ? `:${name}` : `:v${this.#count++}`;
    this.values[placeholder] = value;
    return placeholder;
  }
}

/**
 * The condition of every worker write: the task exists, is in one of `from`, and (with `input`)
 * holds that input and has not expired by `at`. A task recorded before records carried the digest (an API still on the
 * previous release during a deploy) is matched by its name alone, for as long as such tasks live.
 */
export function whileIn(update: Expression, from: readonly TaskState[], input: TaskInput | undefined, at: string, unlessStarted = false): string {
  const states = from.map((state) => update.value(state)).join(', ');
  const conditions = ['attribute_exists(id)', `${update.name('state')} IN (${states})`];
  if (unlessStarted) {
    conditions.push(`attribute_not_exists(${update.name('startedAt')})`, `attribute_not_exists(${update.name('progressJson')})`);
  }
  if (input !== undefined) {
    // A worker's write, only while the task lives: a message outlives its task (14 days against 7, or
    // less), and a task the API answers 404 for must not run its effects or take a result.
    conditions.push(`${update.name('expiresAt')} > ${update.value(Math.floor(Date.parse(at) / 1000))}`);
    const digest = update.name('inputDigest');
    conditions.push(
      `(${digest} = ${update.value(taskInputDigest(input))} OR (attribute_not_exists(${digest}) AND ${update.name('name')} = ${update.value(input.name)}))`,
    );
  }
  return conditions.join(' AND ');
}

/**
 * One task's UpdateItem of `expression` under `condition`, with the placeholders of `update`: the
 * item's attributes (with `ALL_NEW`; empty with `NONE`), or undefined when the condition failed.
 */
export function updateTask(
  items: DynamoDbItems,
  id: string,
  update: Expression,
  expression: string,
  condition: string,
  returnValues: 'ALL_NEW' | 'NONE',
): Promise<Record<string, unknown> | undefined> {
  return items.update(
    {
      Key: { id },
      UpdateExpression: expression,
      ConditionExpression: condition,
      // DynamoDB refuses an empty map of names.
      ...(Object.keys(update.names).length > 0 && { ExpressionAttributeNames: update.names }),
      ExpressionAttributeValues: update.values,
      ReturnValues: returnValues,
    },
    { what: 'update the task' },
  );
}
