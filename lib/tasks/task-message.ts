import * as z from 'zod/mini';
import { TASK_ID_PATTERN } from './task.ts';

/**
 * The body of a queue message. It carries the task's input so a worker needs no read before it
 * starts; the store stays the source of truth for state. Validated on receipt: a queue is an inbound
 * boundary like any other.
 */
export const TaskMessageSchema = z.object({
  // Only a task id: a message cannot name an idempotency claim or a login item of the same table.
  taskId: z.string().check(z.regex(TASK_ID_PATTERN)),
  name: z.string().check(z.minLength(1)),
  args: z.array(z.string()),
});

export type TaskMessage = z.infer<typeof TaskMessageSchema>;

export function encodeTaskMessage(message: TaskMessage): string {
  return JSON.stringify(message);
}

/** Parses a message body; throws a ZodError or SyntaxError naming the problem. */
export function decodeTaskMessage(body: string): TaskMessage {
  return TaskMessageSchema.parse(JSON.parse(body));
}
