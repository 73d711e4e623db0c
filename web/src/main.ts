import type { TaskPage, TaskType, TaskView } from '../../client/src/types.ts';
import { TASK_STATES } from '../../client/src/types.ts';
import { ApiError, api, backoffMs, session, whenSignedOut } from './api.ts';
import { announce, h, pause, prose, redraw, show, time, whenVisible } from './dom.ts';
import { FieldError, argsForm } from './schema-form.ts';
import { isEnded, progressBar, resultText, stateBadge, watchTask } from './task-view.ts';

/**
 * The page: sign in, run any task type, and watch your tasks. No framework: three views of plain DOM
 * (the page is a form, a table and a detail), so the whole script is a few KB and nothing but this
 * origin is ever asked for anything. Views are picked by the URL's fragment: `#/`, `#/tasks/<id>`.
 */
const main = document.getElementById('main') as HTMLElement;
/** Aborted when the view changes, which stops its long polls. */
let viewSignal = new AbortController();
let signedOutMessage: string | undefined;
let taskTypes: Promise<TaskType[]> | undefined;

whenSignedOut((message) => {
  signedOutMessage = message;
  route();
  announce(message);
});
window.addEventListener('hashchange', route);
// The skip link moves the focus; as a fragment link it would change the route.
document.querySelector('.skip')?.addEventListener('click', (event) => {
  event.preventDefault();
  main.focus();
});
document.getElementById('sign-out')?.addEventListener('click', () => {
  session.end();
  signedOutMessage = 'You signed out.';
  location.hash = '#/';
  route();
});
route();

function route(): void {
  // Only `#/…` names a view; any other fragment is a place on the page, not a route.
  if (location.hash !== '' && !location.hash.startsWith('#/')) return;
  viewSignal.abort();
  viewSignal = new AbortController();
  const signal = viewSignal.signal;
  const sessionBox = document.getElementById('session') as HTMLElement;
  const user = session.user;
  sessionBox.hidden = !session.token;
  show(document.getElementById('who') as HTMLElement, user ? `Signed in as ${user}` : '');
  if (!session.token) return signInView();
  const [path = '', query = ''] = location.hash.replace(/^#/, '').split('?');
  const taskId = /^\/tasks\/([^/]+)$/.exec(path)?.[1];
  if (taskId) return taskView(decodedOrSelf(taskId), signal);
  homeView(new URLSearchParams(query), signal);
}

/** Moves focus to the new view's heading, so keyboard and screen reader users start there. */
function focusHeading(): void {
  main.querySelector<HTMLElement>('h1')?.focus();
}

function signInView(): void {
  const username = h('input', { id: 'username', name: 'username', autocomplete: 'username', required: true });
  const password = h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const message = h('p', { class: 'error', role: 'alert', id: 'sign-in-error' });
  // A refusal is about what was typed: it goes once the reader types again.
  const clear = () => (message.textContent = '');
  username.addEventListener('input', clear);
  password.addEventListener('input', clear);
  const button = h('button', { type: 'submit' }, 'Sign in');
  const form = h(
    'form',
    {
      class: 'card narrow',
      'aria-describedby': 'sign-in-error',
      onsubmit: async (event: Event) => {
        event.preventDefault();
        button.disabled = true;
        message.textContent = '';
        try {
          const { token } = await api.signIn(username.value, password.value);
          session.start(username.value, token);
          signedOutMessage = undefined;
          route();
        } catch (error) {
          message.textContent = error instanceof Error ? error.message : String(error);
          password.select();
          password.focus();
        } finally {
          button.disabled = false;
        }
      },
    },
    h('h1', { tabindex: -1 }, 'Sign in'),
    signedOutMessage ? h('p', { class: 'notice' }, signedOutMessage) : null,
    h('div', { class: 'field' }, h('label', { for: 'username' }, 'User name'), username),
    h('div', { class: 'field' }, h('label', { for: 'password' }, 'Password'), password),
    message,
    h('div', { class: 'actions' }, button),
    h('p', { class: 'muted' }, 'Your token is kept for this tab only, and forgotten when you close it.'),
  );
  show(main, form);
  username.focus();
}

function homeView(query: URLSearchParams, signal: AbortSignal): void {
  const runPanel = h('section', { class: 'card', 'aria-labelledby': 'run-heading' }, h('h2', { id: 'run-heading' }, 'Run a task'), h('p', { class: 'muted' }, 'Loading task types…'));
  const listPanel = h('section', { class: 'card', 'aria-labelledby': 'list-heading' });
  show(main, h('h1', { tabindex: -1, class: 'visually-hidden' }, 'Your tasks'), h('div', { class: 'columns' }, runPanel, listPanel));
  const list = taskList(listPanel, query, signal);
  (taskTypes ??= api.taskTypes()).then(
    (types) => runForm(runPanel, types, list.refresh, signal),
    (error: unknown) => {
      taskTypes = undefined;
      show(runPanel, h('h2', { id: 'run-heading' }, 'Run a task'), h('p', { role: 'alert', class: 'error' }, `The task types could not be read: ${message(error)}`));
    },
  );
  focusHeading();
}

function runForm(panel: HTMLElement, types: TaskType[], refreshList: () => void, signal: AbortSignal): void {
  const select = h('select', { id: 'task-name', name: 'name' }, ...types.map((type) => h('option', { value: type.name }, type.name)));
  const description = h('p', { class: 'hint', id: 'task-description' });
  const fields = h('div');
  const error = h('p', { class: 'error', role: 'alert' });
  // Not a live region: it is redrawn as the task progresses; its ending is announced once.
  const answer = h('div', { class: 'answer' });
  const button = h('button', { type: 'submit' }, 'Run');
  let form = argsForm(types[0] as TaskType);
  let watching: AbortController | undefined;
  const choose = () => {
    const type = types.find((t) => t.name === select.value) as TaskType;
    show(description, prose(`${type.description} Time limit ${type.timeoutSeconds} s.`));
    form = argsForm(type);
    show(fields, form.element);
  };
  select.addEventListener('change', choose);
  select.setAttribute('aria-describedby', 'task-description');
  choose();
  show(
    panel,
    h('h2', { id: 'run-heading' }, 'Run a task'),
    h(
      'form',
      {
        novalidate: true,
        onsubmit: async (event: Event) => {
          event.preventDefault();
          // Busy, not disabled: a disabled button would drop the keyboard's focus to the page.
          if (button.getAttribute('aria-disabled') === 'true') return;
          error.textContent = '';
          fields.querySelectorAll('[aria-invalid]').forEach((input) => input.removeAttribute('aria-invalid'));
          let args: unknown;
          try {
            args = form.read();
          } catch (problem) {
            if (!(problem instanceof FieldError)) throw problem;
            watching?.abort();
            show(answer);
            error.textContent = problem.message;
            problem.input.setAttribute('aria-invalid', 'true');
            problem.input.focus();
            return;
          }
          button.setAttribute('aria-disabled', 'true');
          watching?.abort();
          show(answer, h('p', { class: 'muted' }, `Running ${select.value}…`));
          try {
            // A second's wait: a quick task answers 200 with its result, a longer one 202 and is
            // then watched live, its progress shown as it comes.
            const { task } = await api.submit(select.value, args, 1);
            // The reader may have moved to another view meanwhile: nothing is left watching.
            if (signal.aborted) return;
            refreshList();
            watching = new AbortController();
            signal.addEventListener('abort', () => watching?.abort(), { once: true });
            const detail = h('div');
            show(answer, h('h3', {}, 'Answer ', h('a', { href: `#/tasks/${task.id}` }, '(open the task)')), detail);
            if (isEnded(task)) announce(`${task.name} ended: ${task.state}${task.state === 'SUCCESS' ? `, ${resultText(task.result)}` : ''}`);
            void watchTask(detail, task, watching.signal).then(refreshList);
          } catch (problem) {
            show(answer);
            error.textContent = message(problem);
          } finally {
            button.removeAttribute('aria-disabled');
          }
        },
      },
      h('div', { class: 'field' }, h('label', { for: 'task-name' }, 'Task type'), select, description),
      fields,
      error,
      h('div', { class: 'actions' }, button),
    ),
    answer,
  );
}

/** The caller's tasks, newest first, filtered, and kept current while open ones are shown. */
function taskList(panel: HTMLElement, initial: URLSearchParams, signal: AbortSignal): { refresh: () => void } {
  let query = new URLSearchParams(initial);
  const state = h('select', { id: 'filter-state', name: 'state' }, h('option', { value: '' }, 'Any state'), ...TASK_STATES.map((s) => h('option', { value: s }, s)));
  const name = h('select', { id: 'filter-name', name: 'name' }, h('option', { value: '' }, 'Any task type'));
  state.value = query.get('state') ?? '';
  const body = h('div', { class: 'list-body' });
  const status = h('p', { class: 'muted small' });
  // A filter changes the list alone, in place: the form beside it, its answer and the focus stay.
  const apply = () => {
    query = new URLSearchParams();
    if (state.value) query.set('state', state.value);
    if (name.value) query.set('name', name.value);
    history.replaceState(null, '', `#/${query.size ? `?${query}` : ''}`);
    show(body, h('p', { class: 'muted' }, 'Loading…'));
    refresh();
  };
  state.addEventListener('change', apply);
  name.addEventListener('change', apply);
  void (taskTypes ??= api.taskTypes()).then(
    (types) => {
      name.append(...types.map((t) => h('option', { value: t.name }, t.name)));
      name.value = query.get('name') ?? '';
    },
    () => {},
  );
  show(
    panel,
    h('h2', { id: 'list-heading' }, 'Your tasks'),
    h(
      'div',
      { class: 'filters', role: 'group', 'aria-label': 'Filter tasks' },
      h('div', { class: 'field' }, h('label', { for: 'filter-state' }, 'State'), state),
      h('div', { class: 'field' }, h('label', { for: 'filter-name' }, 'Task type'), name),
    ),
    status,
    body,
  );

  // Each pass waits on `wake`, which a refresh (or leaving the view) aborts.
  let wake = new AbortController();
  signal.addEventListener('abort', () => wake.abort(), { once: true });
  const refresh = () => wake.abort();
  void (async () => {
    while (!signal.aborted) {
      await whenVisible(signal);
      const step = wake.signal;
      try {
        const page = await api.list(query, signal);
        if (signal.aborted) return;
        renderList(body, page, query);
        status.textContent = `Updated ${new Date().toLocaleTimeString()}`;
        // An open task in view is waited on (the API answers when it ends, or after the wait), so
        // an ending shows at once: 2 s while it reports progress, 5 s otherwise. With none open
        // the list is looked at again every 15 s.
        const open = page.tasks.find((task) => !isEnded(task));
        if (open) await api.task(open.id, open.progress ? 2 : 5, step).catch((error: unknown) => pause(backoffMs(error), step));
        else await pause(15_000, step);
      } catch (error) {
        if (signal.aborted) return;
        if (error instanceof ApiError && error.status === 400) {
          // A cursor or filter the API refuses (an old link): asking again cannot help.
          show(body, h('p', { role: 'alert', class: 'error' }, error.message), h('p', {}, h('a', { href: '#/' }, 'Show all your tasks')));
          status.textContent = '';
          await pause(Number.POSITIVE_INFINITY, step);
        } else {
          status.textContent = message(error);
          await pause(backoffMs(error), step);
        }
      }
      if (wake.signal.aborted && !signal.aborted) wake = new AbortController();
    }
  })();
  return { refresh };
}

function renderList(body: HTMLElement, page: TaskPage, query: URLSearchParams): void {
  if (page.tasks.length === 0) {
    show(body, h('p', { class: 'muted' }, query.size > 0 && !query.has('cursor') ? 'No tasks match.' : 'No tasks yet. Run one.'));
    return;
  }
  const rows = page.tasks.map((task) =>
    h(
      'tr',
      { 'data-task-id': task.id, 'data-state': task.state },
      h('td', {}, h('a', { href: `#/tasks/${task.id}` }, task.name), h('div', { class: 'muted small' }, h('code', {}, task.id.slice(5, 13)))),
      h('td', {}, stateBadge(task)),
      h('td', {}, summary(task)),
      h('td', { class: 'col-created' }, time(task.createdAt)),
    ),
  );
  const pages: HTMLElement[] = [];
  if (query.has('cursor')) {
    const newest = new URLSearchParams(query);
    newest.delete('cursor');
    pages.push(h('a', { href: `#/${newest.size ? `?${newest}` : ''}` }, 'Newest'));
  }
  if (page.next) {
    const older = new URLSearchParams(query);
    older.set('cursor', page.next);
    pages.push(h('a', { href: `#/?${older}` }, 'Older tasks'));
  }
  redraw(
    body,
    h(
      'table',
      {},
      h('caption', { class: 'visually-hidden' }, 'Your tasks, newest first'),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Task'), h('th', { scope: 'col' }, 'State'), h('th', { scope: 'col' }, 'Result or progress'), h('th', { scope: 'col', class: 'col-created' }, 'Created'))),
      h('tbody', {}, ...rows),
    ),
    pages.length ? h('nav', { class: 'pages', 'aria-label': 'Pages of tasks' }, ...pages) : null,
  );
}

function summary(task: TaskView): Node | string {
  if (task.state === 'SUCCESS') {
    const text = resultText(task.result).replace(/\s+/g, ' ');
    return h('code', { class: 'clip', title: text }, text.length > 40 ? `${text.slice(0, 40)}…` : text);
  }
  if (task.error) return h('span', { class: 'error' }, task.error.code);
  return progressBar(task, `Progress of ${task.name}`) ?? (task.runAt ? h('span', {}, 'runs ', time(task.runAt)) : '');
}

function taskView(id: string, signal: AbortSignal): void {
  const detail = h('div');
  show(main, h('p', {}, h('a', { href: '#/' }, '← All tasks')), h('h1', { tabindex: -1 }, 'Task'), h('section', { class: 'card' }, detail));
  focusHeading();
  void watchTask(detail, id, signal);
}

/** A fragment's part as written when it is not valid percent-encoding (`%E0`): it names no task. */
function decodedOrSelf(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

function message(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  return error instanceof Error ? error.message : String(error);
}
