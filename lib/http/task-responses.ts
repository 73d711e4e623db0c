import type { Context } from 'hono';
import { type Task, toTaskView } from '../tasks/task.ts';
import type { BatchResult } from '../tasks/task-service.ts';
import type { AppEnv } from './app-env.ts';
import type { WaitPreference } from './wait-preference.ts';

/** Seconds a client should wait before looking up a deferred task. */
const RETRY_AFTER_SECONDS = '1';

/** A task as the task routes answer it, with the wait preference that was honoured. */
export function taskResponse<E extends AppEnv>(c: Context<E>, task: Task, status: 200 | 202, wait: WaitPreference): Response {
  if (wait.applied) c.header('Preference-Applied', wait.applied);
  c.set('taskId', task.id);
  return c.json(toTaskView(task), status);
}

/** When to look an open task up again: in a second, or when it is to run, for a task to run later. */
export function retryAfter(task: Task): string {
  const untilRun = task.runAt === undefined ? 0 : Math.ceil((Date.parse(task.runAt) - Date.now()) / 1000);
  return untilRun > 1 ? String(untilRun) : RETRY_AFTER_SECONDS;
}

/** One item's result in the answer of `POST /tasks/batch`: its task, or why it was refused. */
export function batchResultView(result: BatchResult) {
  return 'task' in result ? { task: toTaskView(result.task) } : { error: result.error };
}
