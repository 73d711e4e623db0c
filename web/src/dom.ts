/** Children `h` takes: nodes, text (set as text, never parsed as HTML), or nothing. */
export type Child = Node | string | number | false | null | undefined;

type Props = Record<string, string | number | boolean | ((event: Event) => void) | undefined>;

/**
 * Makes an element: `h('a', { href: '#/' }, 'Tasks')`. Attributes are set as attributes, `on…`
 * functions as listeners, and text as text, so nothing a task or the API returns is read as HTML.
 */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === false) continue;
    if (typeof value === 'function') element.addEventListener(name.slice(2).toLowerCase(), value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  element.append(...children.filter((child) => child !== false && child !== null && child !== undefined).map((child) => (typeof child === 'number' ? String(child) : child)));
  return element;
}

/**
 * Replaces what `parent` holds, keeping the keyboard focus where it was: on the element of the new
 * content with the same `data-focus` or link target. A view redrawn as a task progresses must not
 * pull focus from its Cancel button or links.
 */
export function redraw(parent: Element, ...children: Child[]): void {
  const active = document.activeElement;
  const key = active && parent.contains(active) ? focusKey(active) : undefined;
  show(parent, ...children);
  // The focused element may be gone (Cancel, once the task has ended): the new content's own place takes it.
  if (key) (parent.querySelector<HTMLElement>(key) ?? parent.querySelector<HTMLElement>('[data-focus-fallback]'))?.focus();
}

function focusKey(element: Element): string | undefined {
  const key = element.getAttribute('data-focus');
  if (key) return `[data-focus="${CSS.escape(key)}"]`;
  const href = element.getAttribute('href');
  return href ? `a[href="${CSS.escape(href)}"]` : undefined;
}

/** Replaces what `parent` holds. */
export function show(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  parent.append(...children.filter((child) => child !== false && child !== null && child !== undefined).map((child) => (typeof child === 'number' ? String(child) : child)));
}

/** Tells screen readers of a change they cannot see happen (a task that ended, an error). */
export function announce(message: string): void {
  const region = document.getElementById('announcer');
  if (!region) return;
  region.textContent = '';
  // A new text node, a moment later: live regions announce changes, not a text set twice.
  setTimeout(() => (region.textContent = message), 50);
}

/** A time as the reader's locale writes it, in a `<time>` that keeps the exact instant. */
export function time(iso: string | undefined): HTMLElement | string {
  if (!iso) return '—';
  const date = new Date(iso);
  return h('time', { datetime: iso, title: iso }, date.toLocaleString());
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    // An endless pause waits for the signal alone (setTimeout would take Infinity as 0).
    const timer = Number.isFinite(ms) ? setTimeout(done, ms) : undefined;
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}

/** Resolves once the tab is visible again (or `signal` aborts): nothing is fetched for a hidden tab. */
export function whenVisible(signal: AbortSignal): Promise<void> {
  if (!document.hidden) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (document.hidden && !signal.aborted) return;
      document.removeEventListener('visibilitychange', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    document.addEventListener('visibilitychange', done);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Text with `code` spans, as the API's descriptions write them (no other markup is read). */
export function prose(text: string): HTMLElement {
  return h('span', {}, ...text.split('`').map((part, index) => (index % 2 === 1 ? h('code', {}, part) : part)));
}
