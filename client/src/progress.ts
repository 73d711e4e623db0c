import { startSpinner } from './spinner.ts';
import type { TaskView } from './types.ts';

/**
 * What `--wait` shows on stderr while a task runs. On a terminal: one line redrawn in place, a bar
 * once the task reports progress (`⠋ [#####...............]  25%  3 s to go  task_…`), cleared at
 * the end. Otherwise (a pipe, a log): a plain line each time the percentage or the message changes
 * (`progress 25% 3 s to go`), nothing before the first report.
 */
export interface ProgressDisplay {
  /** Shows the task as last seen. */
  update(task: TaskView): void;
  /** Clears the line on a terminal; the plain lines stay. */
  stop(): void;
}

export const BAR_WIDTH = 20;

export function startProgress(stream: NodeJS.WriteStream, task: TaskView): ProgressDisplay {
  if (stream.isTTY) {
    const spinner = startSpinner(stream, terminalLine(task));
    return { update: (next) => spinner.update(terminalLine(next)), stop: () => spinner.stop() };
  }
  let last: string | undefined;
  const show = (next: TaskView) => {
    const line = plainLine(next);
    if (line === undefined || line === last) return;
    last = line;
    stream.write(`${line}\n`);
  };
  show(task);
  return { update: show, stop() {} };
}

/** Whole percent, rounded down (100% only when done), from a fraction the task reported. */
export function percent(fraction: number): number {
  return Number.isFinite(fraction) ? Math.min(100, Math.max(0, Math.floor(fraction * 100))) : 0;
}

/** `[#####...............]`: the fraction done, in `width` cells. */
export function progressBar(fraction: number, width = BAR_WIDTH): string {
  const filled = Math.floor((percent(fraction) / 100) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

/** The line on a terminal: the bar, percent, the task's message (or done/total), id and a RETRY. */
export function terminalLine(task: TaskView): string {
  const retry = task.state === 'RETRY' ? ' (RETRY)' : '';
  const { progress } = task;
  if (!progress) return `waiting for ${task.id}: ${task.state}`;
  const note = progress.message ? clean(progress.message) : progress.total !== undefined && progress.done !== undefined ? `${progress.done}/${progress.total}` : '';
  // The percent is padded to three digits so the text after it does not shift as it grows.
  const bar = `${progressBar(progress.fraction)} ${String(percent(progress.fraction)).padStart(3)}%`;
  return [bar, note, `${task.id}${retry}`].filter((part) => part !== '').join('  ');
}

/** The plain line, `progress 25% 3 s to go`; undefined before the task reported any progress. */
export function plainLine(task: TaskView): string | undefined {
  const { progress } = task;
  if (!progress) return undefined;
  const message = progress.message ? ` ${clean(progress.message)}` : '';
  return `progress ${percent(progress.fraction)}%${message}${task.state === 'RETRY' ? ' (RETRY)' : ''}`;
}

/** A task's message on one line, without control characters (escape sequences) of its own. */
function clean(message: string): string {
  return message.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').trim();
}
