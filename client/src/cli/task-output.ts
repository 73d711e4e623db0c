/**
 * A task as the commands print it, in the original Go client's words (`Result: 21`, `Deferred!
 * task_…`, `Status : PENDING`), or as the API's JSON with --json; and --wait, with its progress.
 */
import type { DoozerClient } from '../doozer-client.ts';
import { percent, startProgress } from '../progress.ts';
import { formatResult, formatWebhook, roughDuration } from '../task-table.ts';
import { type TaskView, isTerminal } from '../types.ts';
import type { Output } from './context.ts';
import { EXIT } from './failures.ts';

/** `result`: how add, mul and run print a task (`Result: 21`); `status`: how lookup and cancel do. */
export type TaskFormat = 'result' | 'status';

export interface WaitFlags {
  wait?: boolean;
  /** Seconds, parsed and checked before anything is sent. */
  timeout: number;
}

/**
 * With --wait, the longest the API holds one request, in seconds: it answers early only when the
 * task ends, so a short hold shows progress about every second.
 */
export const POLL_SECONDS = 1;

/** Prints the task; returns the exit code it calls for (1 for a task that failed or was cancelled). */
export function printTask(output: Output, task: TaskView, format: TaskFormat): number {
  if (output.json) output.out(JSON.stringify(task, null, 2));
  else if (format === 'status') printStatus(output, task);
  else if (task.state === 'SUCCESS') output.out(`Result: ${formatResult(task.result)}`);
  else if (!isTerminal(task)) output.out(`Deferred! ${task.id}`);
  // With --callback: the id to look the delivery up by (a deferred task's line already has it).
  if (!output.json && format === 'result' && task.callbackUrl !== undefined && isTerminal(task)) {
    output.out(`Webhook: ${task.callbackUrl} (doozer lookup ${task.id} shows the delivery)`);
  }
  if (task.state === 'FAILURE') {
    if (!output.json && format === 'result') output.err(`Failed! ${task.id}: ${task.error?.message ?? 'unknown error'} (${task.error?.code ?? 'unknown'})`);
    return EXIT.taskFailed;
  }
  if (task.state === 'CANCELLED') {
    if (!output.json && format === 'result') output.err(`Cancelled! ${task.id}`);
    return EXIT.taskFailed;
  }
  return EXIT.done;
}

function printStatus(output: Output, task: TaskView): void {
  output.out(`Status : ${task.state}`);
  // The next two only for a task still to run that was set to run later, or has said how far it
  // is: the original's lines stay as they were.
  if (!isTerminal(task) && task.runAt !== undefined) output.out(`Run at : ${task.runAt}${relative(task.runAt)}`);
  if (!isTerminal(task) && task.progress) {
    output.out(`Progress : ${percent(task.progress.fraction)}%${task.progress.message ? ` ${task.progress.message}` : ''}`);
  }
  if (task.state === 'SUCCESS') output.out(`Result : ${formatResult(task.result)}`);
  if (task.state === 'FAILURE') output.out(`Error : ${task.error?.message ?? 'unknown error'}`);
  if (task.webhook) output.out(`Webhook : ${formatWebhook(task.webhook, Date.now())}`);
}

/** ` (in 18m)` for a time to come, nothing for one past. */
function relative(time: string): string {
  const seconds = (Date.parse(time) - Date.now()) / 1000;
  return seconds > 0 ? ` (in ${roughDuration(seconds)})` : '';
}

/** A task accepted to run later: its id, state and time. */
export function printLater(output: Output, task: TaskView): number {
  if (output.json) output.out(JSON.stringify(task, null, 2));
  else {
    output.out(`Scheduled! ${task.id}`);
    printStatus(output, task);
  }
  return EXIT.done;
}

/** Prints the task as it ended, or as last seen when --wait ran out (exit 5, saying how to look it up later). */
export function finish(output: Output, task: TaskView, flags: WaitFlags, format: TaskFormat): number {
  const code = printTask(output, task, format);
  if (flags.wait && !isTerminal(task)) {
    output.err(`${task.id} is still ${task.state} after ${flags.timeout} s; look it up later with: doozer lookup --uuid=${task.id}`);
    return EXIT.waitTimedOut;
  }
  return code;
}

/**
 * Polls until the task ends or the --timeout that started counting at `startedAt` runs out,
 * showing its progress on stderr.
 */
export async function waitWithProgress(client: DoozerClient, task: TaskView, flags: WaitFlags, startedAt: number): Promise<TaskView> {
  const progress = startProgress(process.stderr, task);
  try {
    const timeoutMs = Math.max(0, startedAt + flags.timeout * 1000 - Date.now());
    return await client.waitFor(task.id, { timeoutMs, pollSeconds: POLL_SECONDS, onProgress: (view) => progress.update(view) });
  } finally {
    progress.stop();
  }
}
