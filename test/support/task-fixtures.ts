import { newTaskId, type Task } from '../../lib/tasks/task.ts';
import { encodeTaskMessage } from '../../lib/tasks/task-message.ts';

/** A task as the API records it before any worker has seen it; override what a test cares about. */
export function pendingTask(overrides: Partial<Task> = {}): Task {
  const now = new Date();
  return {
    id: newTaskId(),
    owner: 'alice',
    name: 'add',
    args: ['2', '3'],
    state: 'PENDING',
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
    expiresAt: Math.floor(now.getTime() / 1000) + 3_600,
    ...overrides,
  };
}

/** The queue message the API sends for a task. */
export function messageBodyFor(task: Task): string {
  return encodeTaskMessage({ taskId: task.id, name: task.name, args: task.args });
}
