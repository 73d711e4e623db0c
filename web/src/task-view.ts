import type { TaskState, TaskView } from '../../client/src/types.ts';
import { TERMINAL_STATES } from '../../client/src/types.ts';
import { ApiError, api, backoffMs } from './api.ts';
import { announce, h, pause, redraw, show, time, whenVisible } from './dom.ts';

const CANCELLABLE: readonly TaskState[] = ['SCHEDULED', 'PENDING', 'RETRY'];

export const isEnded = (task: Pick<TaskView, 'state'>) => TERMINAL_STATES.includes(task.state);

/**
 * The state as a badge: its word is always shown, the colour only adds to it. It is the API's state
 * (what the filter and the API take); a PENDING task that reports progress is also marked running.
 */
export function stateBadge(task: Pick<TaskView, 'state' | 'progress'>): HTMLElement {
  const running = task.state === 'PENDING' && task.progress !== undefined;
  return h('span', {}, h('span', { class: `state state-${task.state.toLowerCase()}` }, task.state), running ? h('span', { class: 'running' }, 'running') : null);
}

/** A progress bar with its words: "40% · 3 s to go". */
export function progressBar(task: TaskView, label: string): HTMLElement | null {
  const progress = task.progress;
  if (!progress) return null;
  const percent = task.state === 'SUCCESS' ? 100 : Math.round(progress.fraction * 100);
  // The last message of an ended task ("3 s to go") is stale: only the point it reached is shown.
  const words = isEnded(task) ? (task.state === 'SUCCESS' ? 'done' : `stopped at ${percent}%`) : `${percent}%${progress.message ? ` · ${progress.message}` : ''}`;
  return h(
    'div',
    { class: 'progress' },
    h('progress', { max: 100, value: percent, 'aria-label': label }),
    h('span', { class: 'progress-text' }, words),
  );
}

/** The result as text: an exact integer (a decimal string) as itself, anything else as JSON. */
export function resultText(result: unknown): string {
  return typeof result === 'string' ? result : JSON.stringify(result, null, 2);
}

/**
 * Shows one task in `container` and keeps it current until it ends or `signal` aborts: a `?wait=`
 * lookup at a time, which the API answers the moment the task ends (or after the wait), so an open
 * task costs about one request a second while it reports progress and one every five otherwise.
 */
export async function watchTask(container: HTMLElement, first: TaskView | string, signal: AbortSignal): Promise<void> {
  let task = typeof first === 'string' ? undefined : first;
  const id = typeof first === 'string' ? first : first.id;
  let notice: string | undefined;
  const render = () => {
    if (task) redraw(container, taskDetails(task, notice, cancel));
  };
  const cancel = async (button: HTMLButtonElement) => {
    // Busy, not disabled: a disabled button would drop the keyboard's focus to the page.
    if (button.getAttribute('aria-disabled') === 'true') return;
    button.setAttribute('aria-disabled', 'true');
    try {
      task = await api.cancel(id);
      notice = undefined;
      announce(`Task ${task.name} ${task.state}`);
    } catch (error) {
      notice = error instanceof Error ? error.message : String(error);
      announce(notice);
    }
    render();
  };
  if (task) render();
  else show(container, h('p', { class: 'muted' }, 'Loading…'));
  // A task just submitted was read a moment ago: the first look already waits.
  let wait = task ? 1 : 0;
  while (!signal.aborted && !(task && isEnded(task))) {
    await whenVisible(signal);
    try {
      const next = await api.task(id, wait, signal);
      const ended = isEnded(next) && !(task && isEnded(task));
      task = next;
      notice = undefined;
      if (signal.aborted) return;
      render();
      if (ended) announce(`Task ${task.name} ended: ${task.state}`);
      wait = waitSeconds(task);
    } catch (error) {
      if (signal.aborted) return;
      if (error instanceof ApiError && (error.status === 404 || error.status === 400 || error.status === 401)) {
        show(container, h('p', { role: 'alert', class: 'error' }, error.message));
        return;
      }
      notice = error instanceof Error ? error.message : String(error);
      if (task) render();
      else show(container, h('p', { role: 'alert', class: 'error' }, notice));
      await pause(backoffMs(error), signal);
    }
  }
}

/** How long each look waits: a second while it reports progress, longer for one not yet running. */
function waitSeconds(task: TaskView): number {
  if (task.progress) return 1;
  return task.state === 'SCHEDULED' ? 5 : 2;
}

function taskDetails(task: TaskView, notice: string | undefined, cancel: (button: HTMLButtonElement) => void): HTMLElement {
  const cancelButton = CANCELLABLE.includes(task.state)
    ? h('button', { type: 'button', class: 'danger', 'data-focus': 'cancel', onclick: (event: Event) => cancel(event.currentTarget as HTMLButtonElement) }, 'Cancel task')
    : null;
  const row = (term: string, ...value: (Node | string | null)[]) => [h('dt', {}, term), h('dd', {}, ...value)];
  return h(
    'article',
    { class: 'task', 'aria-label': `Task ${task.name}`, 'data-state': task.state, tabindex: -1, 'data-focus': 'task', 'data-focus-fallback': true },
    h('div', { class: 'task-head' }, h('span', { class: 'task-name' }, task.name), stateBadge(task), cancelButton),
    progressBar(task, `Progress of ${task.name}`),
    task.state === 'SUCCESS' ? h('div', { class: 'outcome' }, h('h3', {}, 'Result'), h('pre', { class: 'result', tabindex: 0 }, resultText(task.result))) : null,
    task.error
      ? h('div', { class: 'outcome' }, h('h3', {}, 'Error'), h('p', { class: 'error' }, h('code', {}, task.error.code), ' ', task.error.message))
      : null,
    notice ? h('p', { role: 'alert', class: 'error' }, notice) : null,
    h(
      'dl',
      { class: 'facts' },
      ...row('Id', h('code', {}, task.id)),
      ...row('Args', h('pre', { class: 'args', tabindex: 0 }, JSON.stringify(task.args))),
      ...row('Created', time(task.createdAt)),
      ...(task.runAt ? row('Runs at', time(task.runAt)) : []),
      ...row(isEnded(task) ? 'Ended' : 'Updated', time(task.updatedAt)),
      ...(isEnded(task) ? row('Took', `${(ranFor(task) / 1000).toFixed(2)} s`) : []),
      ...(task.webhook ? row('Webhook', `${task.webhook.state} after ${task.webhook.attempts} attempt${task.webhook.attempts === 1 ? '' : 's'}`) : []),
      ...row('Kept until', time(task.expiresAt)),
    ),
  );
}

/** Milliseconds from when the task was to start (submitted, or its runAt) to when it ended. */
function ranFor(task: TaskView): number {
  const start = Math.max(Date.parse(task.createdAt), task.runAt ? Date.parse(task.runAt) : 0);
  return Math.max(0, Date.parse(task.updatedAt) - start);
}
