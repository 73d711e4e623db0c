import { setTimeout as sleep } from 'node:timers/promises';

/**
 * How the lifecycle phase sees its tasks end: through the API, by listing. `GET /tasks?limit=…`
 * newest first, whose first N tasks are the side's N (nothing else submits meanwhile). Once the
 * submissions have answered, the list is walked once (N/100 requests), keeping each page's cursor;
 * then, every POLL_INTERVAL_MS, the oldest page that still held an open task is read again, and the
 * next one at once if that page is now done, until a page is still open (tasks finish roughly in
 * the order they were queued, so a round is usually one request).
 */

/** Pause between two rounds of the list watcher. */
export const POLL_INTERVAL_MS = 200;
/** Tasks per page of `GET /tasks` (the API's most). */
const LIST_PAGE = 100;

export interface ListedTask {
  readonly id: string;
  readonly state: string;
  readonly result?: unknown;
  readonly updatedAt: string;
}

export type ListPage = (limit: number, cursor: string | undefined) => Promise<{ tasks: readonly ListedTask[]; next: string | null }>;

export interface Completion {
  /** Tasks listed SUCCESS with the expected result. */
  readonly completed: number;
  /** Tasks ended otherwise, or with another result, or not the side's; and tasks still open at the deadline. */
  readonly errors: number;
  readonly errorSamples: Record<string, number>;
  readonly open: number;
  /** Epoch ms of the latest `updatedAt` among the tasks listed SUCCESS. */
  readonly lastSuccessMs: number | undefined;
  /** performance.now() of the list answer that showed the last open task ended. */
  readonly seenAt: number;
  readonly listRequests: number;
  readonly truncated: boolean;
}

const TERMINAL = new Set(['SUCCESS', 'FAILURE', 'CANCELLED']);

/**
 * Waits until every task of `expected` (id → its result) has ended, reading the newest
 * `expected.size` tasks of the caller's list (see the module's comment for how few requests it
 * makes). `deadline` is a performance.now() time: tasks still open then are errors.
 */
export async function watchCompletion(options: {
  readonly expected: ReadonlyMap<string, unknown>;
  readonly listPage: ListPage;
  readonly deadline: number;
  readonly intervalMs?: number;
  readonly pageSize?: number;
}): Promise<Completion> {
  const { expected, listPage, deadline } = options;
  const intervalMs = options.intervalMs ?? POLL_INTERVAL_MS;
  const pageSize = options.pageSize ?? LIST_PAGE;
  const errorSamples: Record<string, number> = {};
  let errors = 0;
  let completed = 0;
  let lastSuccessMs: number | undefined;
  let listRequests = 0;
  let seenAt = performance.now();
  const fail = (error: string, count = 1) => {
    errors += count;
    if (error in errorSamples || Object.keys(errorSamples).length < 5) errorSamples[error] = (errorSamples[error] ?? 0) + count;
  };
  const ended = new Set<string>();
  /** Reads one page; returns its tasks' ids still open, or undefined if the page cannot be read. */
  const read = async (limit: number, cursor: string | undefined) => {
    listRequests += 1;
    const page = await listPage(limit, cursor);
    seenAt = performance.now();
    const open: string[] = [];
    for (const task of page.tasks.slice(0, limit)) {
      if (!expected.has(task.id)) {
        fail('GET /tasks listed a task that this side did not submit among its newest');
        ended.add(task.id);
        continue;
      }
      if (ended.has(task.id)) continue;
      if (!TERMINAL.has(task.state)) {
        open.push(task.id);
        continue;
      }
      ended.add(task.id);
      const want = expected.get(task.id);
      if (task.state === 'SUCCESS' && task.result === want) {
        completed += 1;
        const at = Date.parse(task.updatedAt);
        if (Number.isFinite(at)) lastSuccessMs = Math.max(lastSuccessMs ?? at, at);
      } else {
        fail(`a task ended ${task.state} with ${JSON.stringify(task.result)}, expected SUCCESS with ${JSON.stringify(want)}`);
      }
    }
    return { open, tasks: Math.min(page.tasks.length, limit), next: page.next };
  };

  // The walk: every page once, newest first, keeping the cursor that reads each page again.
  const pages: { cursor: string | undefined; limit: number; open: number }[] = [];
  let cursor: string | undefined;
  let listed = 0;
  while (listed < expected.size) {
    const limit = Math.min(pageSize, expected.size - listed);
    const page = await read(limit, cursor);
    pages.push({ cursor, limit, open: page.open.length });
    listed += page.tasks;
    if (page.tasks < limit || page.next === null) break;
    cursor = page.next;
  }
  if (listed < expected.size) fail('GET /tasks listed fewer tasks than this side submitted', expected.size - listed);

  // Then the oldest page still open, and the ones after it while they are found done.
  let truncated = false;
  for (;;) {
    const oldestOpen = pages.findLastIndex((page) => page.open > 0);
    if (oldestOpen < 0) break;
    if (performance.now() >= deadline) {
      truncated = true;
      break;
    }
    await sleep(intervalMs);
    for (let index = oldestOpen; index >= 0; index -= 1) {
      const page = pages[index]!;
      if (page.open === 0) continue;
      page.open = (await read(page.limit, page.cursor)).open.length;
      if (page.open > 0) break;
    }
  }
  const open = pages.reduce((sum, page) => sum + page.open, 0);
  if (open > 0) fail('a task was still open at the time bound', open);
  return { completed, errors, errorSamples, open, lastSuccessMs, seenAt, listRequests, truncated };
}
