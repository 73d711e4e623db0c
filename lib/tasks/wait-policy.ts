import { setTimeout as sleepMs } from 'node:timers/promises';
import { type Clock, systemClock } from '../clock.ts';

/**
 * How often the API reads the store while it waits for a result. The first read lands a few
 * milliseconds after the enqueue (a local add finishes in about that time), then the gap doubles up
 * to a cap, so a long wait costs a bounded number of reads and a late result is still seen quickly.
 */
export interface BackoffSchedule {
  readonly initialDelayMs: number;
  readonly multiplier: number;
  readonly maxDelayMs: number;
}

/**
 * Chosen with the AWS model (`npm run bench:model`): a first read at 20 ms, when ~70% of tasks have
 * ended, then 60 and 140 ms, gives a lower p50 with about half the reads of starting at 5 ms, since
 * no result can arrive before the SQS -> Lambda hop (~13 ms at least). The local stage starts at 5 ms.
 */
export const DEFAULT_BACKOFF: BackoffSchedule = { initialDelayMs: 20, multiplier: 2, maxDelayMs: 250 };

/** The longest a request may wait for a result, in seconds (`?wait=` and `Prefer: wait=` are capped here). */
export const MAX_WAIT_SECONDS = 5;

/**
 * Times, in ms after the start, at which to read: growing gaps, never past the budget, and a last
 * read exactly at the budget so no time granted is left unused.
 */
export function readOffsets(schedule: BackoffSchedule, budgetMs: number): number[] {
  const { initialDelayMs, multiplier, maxDelayMs } = schedule;
  // Without these the gaps could shrink to nothing and the schedule never reach the budget.
  if (!(initialDelayMs > 0 && multiplier >= 1 && maxDelayMs >= initialDelayMs)) {
    throw new RangeError(`invalid backoff schedule ${JSON.stringify(schedule)}: need initialDelayMs > 0, multiplier >= 1, maxDelayMs >= initialDelayMs`);
  }
  const offsets: number[] = [];
  let delay = schedule.initialDelayMs;
  let at = 0;
  while (budgetMs > 0) {
    at = Math.min(at + delay, budgetMs);
    offsets.push(at);
    if (at >= budgetMs) break;
    delay = Math.min(delay * schedule.multiplier, schedule.maxDelayMs);
  }
  return offsets;
}

/** The offsets still ahead at `elapsed`, after one read at once if any are already past. */
export function dueOffsets(offsets: readonly number[], elapsed: number): number[] {
  const ahead = offsets.findIndex((offset) => offset > elapsed);
  if (ahead === 0 || offsets.length === 0) return [...offsets];
  return [elapsed, ...(ahead === -1 ? [] : offsets.slice(ahead))];
}

export interface PollOptions {
  readonly budgetMs: number;
  readonly schedule?: BackoffSchedule;
  readonly clock?: Clock;
  readonly sleep?: (ms: number) => Promise<unknown>;
  /**
   * When the schedule's time started (clock ms), if before the call: `POST /tasks` counts from the
   * moment it recorded and queued the task, as the worker starts then. Offsets already past are one
   * read at once, never a burst.
   */
  readonly startedAt?: number;
}

/**
 * Reads on the schedule until `done` holds or the budget is spent. Returns the last value read, or
 * `undefined` when the budget allowed no read. Errors from `read` propagate.
 */
export async function pollUntil<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  { budgetMs, schedule = DEFAULT_BACKOFF, clock = systemClock, sleep = sleepMs, startedAt }: PollOptions,
): Promise<T | undefined> {
  const start = startedAt ?? clock.now();
  let last: T | undefined;
  let reads = 0;
  for (const offset of dueOffsets(readOffsets(schedule, budgetMs), clock.now() - start)) {
    const elapsed = clock.now() - start;
    // A slow read may have used up the budget already: stop rather than catch up in a burst.
    if (reads > 0 && elapsed >= budgetMs) break;
    const gap = offset - elapsed;
    if (gap > 0) await sleep(gap);
    last = await read();
    reads += 1;
    if (done(last)) return last;
  }
  return last;
}
