import * as z from 'zod/mini';
import { TASK_ID_PATTERN, type TaskInput } from './task.ts';

/**
 * The body of a queue message. It carries the task's input so a worker needs no read before it
 * starts; the store stays the source of truth for state. Validated on receipt: a queue is an inbound
 * boundary like any other.
 */
export const TaskMessageSchema = z.object({
  // Only a task id: a message cannot name an idempotency claim or a login item of the same table.
  taskId: z.string().check(z.regex(TASK_ID_PATTERN)),
  name: z.string().check(z.minLength(1), z.maxLength(64)),
  // Checked by the task's own schema when the worker prepares it (TaskCatalog.prepare).
  args: z.unknown(),
});

export type TaskMessage = { readonly taskId: string } & TaskInput;

/**
 * The message body. SQS refuses U+FFFE and U+FFFF, which JSON.stringify leaves as they are (a task's
 * string args may hold them): they are escaped, so the body is the same JSON and SQS takes it.
 */
export function encodeTaskMessage(message: TaskMessage): string {
  return JSON.stringify(message).replace(/[\uFFFE\uFFFF]/g, (char) => `\\u${char.charCodeAt(0).toString(16)}`);
}

/** Parses a message body; throws a ZodError or SyntaxError naming the problem. */
export function decodeTaskMessage(body: string): TaskMessage {
  return TaskMessageSchema.parse(JSON.parse(body)) as TaskMessage;
}
