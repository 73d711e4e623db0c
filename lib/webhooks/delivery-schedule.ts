import { isTaskId } from '../tasks/task.ts';

/**
 * When completion webhooks are attempted, and the notifier's message: the pure part of delivery,
 * apart from the notifier (webhook-notifier.ts), so that the worker and the API, which only hand
 * tasks on, do not bundle the signing library.
 */

/**
 * Seconds before attempts 2, 3, … of a delivery that failed in a way worth trying again: the
 * schedule the Standard Webhooks specification gives as an example (immediately, 5 s, 5 min, 30 min,
 * 2 h, 5 h, 10 h, 10 h): eight attempts over about 28 hours.
 */
export const DEFAULT_RETRY_SCHEDULE_SECONDS: readonly number[] = [5, 300, 1_800, 7_200, 18_000, 36_000, 36_000];

/**
 * A delivery not taken up this long after it was due (its message lost: a worker that died after
 * ending its task, a failed send) is sent again by the sweeper. Longer than a notifier takes over
 * one attempt and than the sweeper looks ahead, so a delivery on its way is not sent twice.
 */
export const RESEND_AFTER_SECONDS = 300;

/** How long one attempt holds its delivery: the request's timeout and the writes around it, with room. */
export const LEASE_SECONDS = 30;

/** A message this much before its delivery's next attempt is a duplicate; the due one comes later. */
export const EARLY_TOLERANCE_MS = 1_000;

/** The message the notifier queue carries: a task id, nothing else to trust. */
export function encodeNotice(taskId: string): string {
  return JSON.stringify({ taskId });
}

/** The task id of a notifier message, or undefined for a body that is not one. */
export function decodeNotice(body: string): string | undefined {
  try {
    const taskId = (JSON.parse(body) as { taskId?: unknown } | null)?.taskId;
    return typeof taskId === 'string' && isTaskId(taskId) ? taskId : undefined;
  } catch {
    return undefined;
  }
}

/** When a task that just ended is sent again, should its first message be lost (StateChange.notifyAt). */
export function notifyAtAfterEnd(endedAtMs: number): string {
  return new Date(endedAtMs + RESEND_AFTER_SECONDS * 1000).toISOString();
}
