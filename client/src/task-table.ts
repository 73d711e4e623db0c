import { percent } from './progress.ts';
import { type TaskView, type WebhookDelivery, isTerminal } from './types.ts';

/**
 * `doozer list`: tasks as a table, one line each, cut to the width given.
 *
 * ```
 * ID                                         NAME   STATE      AGE  RESULT
 * task_1db8fd1f-aff0-4db6-9c9a-ada3d20cb006  add    SUCCESS    12s  6
 * task_5f0e3c2a-8b7d-4e61-a9f2-3c4d5e6f7a8b  sleep  SCHEDULED  3m   runs in 18m
 * task_0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d  mul    FAILURE    2h   timeout: the task ran past its 10 s limit
 * ```
 *
 * When a task shown has ended with a completion webhook (its view has `webhook`), a WEBHOOK column
 * before RESULT says how each delivery stands (`delivered`, `pending HTTP 503`, `failed HTTP 410`);
 * otherwise the table is as above.
 */

export interface TableOptions {
  /** Epoch ms: ages and "runs in" count from it. */
  readonly now: number;
  /** Columns a line may take; the result column is cut to fit (never below MIN_NOTE_WIDTH). */
  readonly width: number;
}

const GAP = '  ';
/** The result column keeps this many characters even on a narrow terminal (the line then wraps). */
const MIN_NOTE_WIDTH = 12;
/** The lines of the table: a header, then one line per task, in the order given. */
export function formatTaskTable(tasks: readonly TaskView[], { now, width }: TableOptions): string[] {
  const withWebhook = tasks.some((task) => task.webhook !== undefined);
  const header = ['ID', 'NAME', 'STATE', 'AGE', ...(withWebhook ? ['WEBHOOK'] : []), 'RESULT'];
  const rows = tasks.map((task) => [
    task.id,
    oneLine(task.name),
    task.state,
    age(task.createdAt, now),
    ...(withWebhook ? [task.webhook ? webhookColumn(task.webhook) : ''] : []),
    taskNote(task, now),
  ]);
  const fixedColumns = header.length - 1;
  const widths = header.slice(0, fixedColumns).map((title, column) => Math.max(title.length, ...rows.map((row) => [...row[column]!].length)));
  const fixed = widths.reduce((sum, columnWidth) => sum + columnWidth + GAP.length, 0);
  const noteWidth = Math.max(MIN_NOTE_WIDTH, width - fixed);
  return [header, ...rows].map((row) =>
    [...row.slice(0, fixedColumns).map((cell, column) => cell.padEnd(widths[column]!)), truncate(row[fixedColumns]!, noteWidth)].join(GAP).trimEnd(),
  );
}

/** The WEBHOOK column: the delivery's state, and the receiver's last status while it is not delivered. */
function webhookColumn(webhook: WebhookDelivery): string {
  return webhook.state !== 'delivered' && webhook.lastStatus !== undefined ? `${webhook.state} HTTP ${webhook.lastStatus}` : webhook.state;
}

/**
 * How a completion webhook's delivery stands, as `lookup` shows it:
 * `delivered (1 attempt, HTTP 204)`, `pending (2 attempts, last HTTP 500, next at <time>, in 30s)`,
 * `pending (not sent yet)`, `failed (6 attempts, last error: connection refused)`.
 */
export function formatWebhook(webhook: WebhookDelivery, now: number): string {
  const details: string[] = [];
  if (webhook.attempts > 0) details.push(`${webhook.attempts} attempt${webhook.attempts === 1 ? '' : 's'}`);
  else if (webhook.state === 'pending') details.push('not sent yet');
  const last = webhook.state === 'delivered' ? '' : 'last ';
  if (webhook.lastStatus !== undefined) details.push(`${last}HTTP ${webhook.lastStatus}`);
  else if (webhook.lastError !== undefined) details.push(`${last}error: ${oneLine(webhook.lastError)}`);
  if (webhook.state === 'pending' && webhook.nextAttemptAt !== undefined) {
    const seconds = (Date.parse(webhook.nextAttemptAt) - now) / 1000;
    details.push(`next at ${webhook.nextAttemptAt}${seconds > 0 ? `, in ${roughDuration(seconds)}` : ''}`);
  }
  return details.length > 0 ? `${webhook.state} (${details.join(', ')})` : webhook.state;
}

/**
 * The result column: the result of a task that succeeded, `code: message` of one that failed,
 * `runs in 18m` for one set to run later, how far a running one is; empty otherwise.
 */
export function taskNote(task: TaskView, now: number): string {
  if (task.state === 'SUCCESS') return oneLine(formatResult(task.result));
  if (task.state === 'FAILURE') return oneLine(task.error ? `${task.error.code}: ${task.error.message}` : 'unknown error');
  if (isTerminal(task)) return '';
  const runAt = task.runAt === undefined ? Number.NaN : Date.parse(task.runAt);
  if (runAt > now) return `runs in ${roughDuration((runAt - now) / 1000)}`;
  if (task.progress) return oneLine(`${percent(task.progress.fraction)}%${task.progress.message ? ` ${task.progress.message}` : ''}`);
  return '';
}

/** A result on one line: text and numbers as they are (exact integers come as either), else compact JSON. */
export function formatResult(result: unknown): string {
  if (typeof result === 'string') return result;
  return JSON.stringify(result) ?? 'null';
}

/** Time since `createdAt`, in its largest whole unit, rounded down: `12s`, `5m`, `3h`, `2d`. */
export function age(createdAt: string, now: number): string {
  const seconds = Math.max(0, Math.floor((now - Date.parse(createdAt)) / 1000));
  if (!Number.isFinite(seconds)) return '?';
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3_600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3_600)}h`;
  return `${Math.floor(seconds / 86_400)}d`;
}

/**
 * A time to come in its two largest units, `1m30s`, `1h30m`, `6d23h`, or in one from ten of it on,
 * `20m`, `12h`; rounded, not cut: a task set to run in 20 minutes still reads `20m` a moment later.
 */
export function roughDuration(seconds: number): string {
  let total = Math.max(0, Math.round(seconds));
  const first = UNITS.findIndex(([unit]) => total >= unit);
  if (first === -1) return '0s';
  // From ten of the largest unit on, the next one is noise (19m59s): round to the largest.
  const largest = UNITS[first]![0];
  if (total >= 10 * largest) total = Math.round(total / largest) * largest;
  const index = UNITS.findIndex(([unit]) => total >= unit);
  const [unit, label] = UNITS[index]!;
  const next = UNITS[index + 1];
  const rest = next ? Math.floor((total % unit) / next[0]) : 0;
  return `${Math.floor(total / unit)}${label}${next && rest > 0 ? `${rest}${next[1]}` : ''}`;
}

const UNITS = [
  [86_400, 'd'],
  [3_600, 'h'],
  [60, 'm'],
  [1, 's'],
] as const;

/** Text from a task (its name, result, error or progress message) on one line, without control characters. */
export function oneLine(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ').replace(/ {2,}/g, ' ').trim();
}

/** Cut to `width` characters (code points), the last one an ellipsis when anything was cut. */
function truncate(text: string, width: number): string {
  const characters = [...text];
  return characters.length <= width ? text : `${characters.slice(0, width - 1).join('')}…`;
}
