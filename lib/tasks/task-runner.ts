import * as z from 'zod/mini';
import { TaskError } from '../errors.ts';
import { type Logger, silentLogger } from '../logger.ts';
import type { TaskContext } from './define-task.ts';
import { describeIssues } from './schema-issues.ts';
import type { Json, TaskFailure, TaskProgress } from './task.ts';
import type { PreparedTask } from './task-catalog.ts';
import { type Clock, systemClock } from '../clock.ts';

/** The largest result kept, as JSON: a DynamoDB item stops at 400 KB, and the task's input is in it too. */
export const MAX_RESULT_BYTES = 256 * 1024;
/** The longest message kept from a thrown error or a progress report. */
const MAX_MESSAGE_LENGTH = 500;
const MAX_PROGRESS_MESSAGE_LENGTH = 200;
const TASK_ERROR_CODE = /^[a-z][a-z0-9_]{0,63}$/;

export type RunOutcome =
  | { readonly state: 'SUCCESS'; readonly result: Json; readonly progress?: TaskProgress }
  | { readonly state: 'FAILURE'; readonly error: TaskFailure }
  /** `run` threw and the task has retries left: try again after `delaySeconds`. */
  | { readonly state: 'RETRY'; readonly error: TaskFailure; readonly delaySeconds: number }
  /** The task's record refused its progress: it ended elsewhere, or holds another input. Nothing to write. */
  | { readonly state: 'ABANDONED' };

export interface RunOptions {
  readonly taskId: string;
  readonly attempt: number;
  /**
   * Stores a progress report with a conditional write; false when the record no longer lets the
   * task run (then `run` is stopped through its signal and its outcome is dropped).
   */
  readonly saveProgress: (progress: TaskProgress) => Promise<boolean>;
  /** Least time between two stored reports; the latest report in between is stored after it. */
  readonly progressIntervalMs?: number;
  /**
   * Aborted when the task must stop from outside (it was cancelled): `run`'s signal fires and the
   * outcome is ABANDONED, whatever `run` returns afterwards.
   */
  readonly signal?: AbortSignal;
  readonly clock?: Clock;
  readonly logger?: Logger;
}

/** Why a task's signal fired. */
export class TaskTimeoutError extends Error {
  override readonly name = 'TimeoutError';
}
class TaskAbandonedError extends Error {
  override readonly name = 'AbortError';
}

/**
 * Runs one task: gives `run` its context, stops it at its time limit (the outcome is `timeout` even
 * if `run` ignores its signal and goes on), stores its progress at most about once a second, and
 * turns whatever it returns or throws into an outcome. Never throws: an error in `run` is the
 * task's outcome, worded without a stack trace.
 */
export async function runTask(task: PreparedTask, options: RunOptions): Promise<RunOutcome> {
  const { definition } = task;
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? silentLogger;
  const controller = new AbortController();
  let abandon!: () => void;
  const abandoned = new Promise<RunOutcome>((resolve) => {
    abandon = () => {
      controller.abort(new TaskAbandonedError('the task ended elsewhere, or its record holds another input'));
      resolve({ state: 'ABANDONED' });
    };
  });
  if (options.signal?.aborted) abandon();
  options.signal?.addEventListener('abort', () => abandon(), { once: true });
  const reporter = new ProgressReporter(options.saveProgress, options.progressIntervalMs ?? 1_000, clock, abandon, logger);
  const context: TaskContext = {
    taskId: options.taskId,
    attempt: options.attempt,
    signal: controller.signal,
    progress: (value, message) => reporter.report(value, message),
  };

  let timer: NodeJS.Timeout | undefined;
  const limit = definition.timeoutSeconds;
  const timedOut = new Promise<RunOutcome>((resolve) => {
    timer = setTimeout(() => {
      controller.abort(new TaskTimeoutError(`the task ran longer than its limit of ${limit} s`));
      resolve(timeout(limit));
    }, limit * 1000);
  });
  const startedMs = performance.now();
  const ran = (async (): Promise<RunOutcome> => {
    let value: unknown;
    try {
      value = await definition.run(task.args, context);
    } catch (error) {
      if (controller.signal.aborted) return { state: 'ABANDONED' }; // the race below has its outcome already
      return failureOf(error, task, options.attempt, logger);
    }
    // A `run` that never yielded kept the timer from firing: past its limit all the same, it timed out.
    if (performance.now() - startedMs >= limit * 1000) return timeout(limit);
    // A result that cannot be kept is the task's bug, the same on every attempt: not retried.
    try {
      return encodeResult(task, value, reporter.last);
    } catch (error) {
      logger.warn('the task returned a result that cannot be stored', { task: task.definition.name, error });
      return failure('invalid_result', `the task returned a result that cannot be stored as JSON: ${describe(error)}`);
    }
  })();
  try {
    return await Promise.race([ran, timedOut, abandoned]);
  } finally {
    clearTimeout(timer);
    await reporter.close();
  }
}

function encodeResult(task: PreparedTask, value: unknown, last: TaskProgress | undefined): RunOutcome {
  const schema = task.definition.result;
  let result: Json;
  if (schema) {
    const encoded = z.safeEncode(schema, value as never);
    if (!encoded.success) {
      return failure('invalid_result', `the task returned a result its schema refuses: ${describeIssues(encoded.error.issues, 'result')}`);
    }
    result = encoded.data as Json;
  } else {
    result = (value === undefined ? null : JSON.parse(JSON.stringify(value))) as Json;
  }
  const bytes = Buffer.byteLength(JSON.stringify(result));
  if (bytes > MAX_RESULT_BYTES) {
    return failure('result_too_large', `the result is ${bytes} bytes of JSON; results are limited to ${MAX_RESULT_BYTES}`);
  }
  // Complete; the last message stays only if it was said of the complete task (else it is stale: "1 s to go").
  const progress = last && {
    fraction: 1,
    ...(last.total !== undefined && { done: last.total, total: last.total }),
    ...(last.fraction === 1 && last.message !== undefined && { message: last.message }),
    at: last.at,
  };
  return { state: 'SUCCESS', result, ...(progress && { progress }) };
}

function timeout(limitSeconds: number): RunOutcome {
  return failure('timeout', `the task ran longer than its limit of ${limitSeconds} s`);
}

function failureOf(error: unknown, task: PreparedTask, attempt: number, logger: Logger): RunOutcome {
  if (error instanceof TaskError) {
    if (TASK_ERROR_CODE.test(error.code)) return failure(error.code, String(error.message));
    // The task meant this failure, with a code the API cannot carry: its message stands, its code not.
    logger.warn('a TaskError code must be lower-case letters, digits and underscores; using task_failed', {
      task: task.definition.name,
      code: String(error.code).slice(0, 64),
    });
    return failure('task_failed', String(error.message));
  }
  // Not a TaskError: a bug or a dependency's fault, whose message may name hosts, paths or data. It
  // goes to the log with its stack; the API says only what kind of error it was.
  logger.warn('the task threw', { task: task.definition.name, attempt, error });
  const message = `the task failed with an unexpected ${errorKind(error)}; its worker's log has the detail`;
  if (attempt <= task.definition.retries) {
    return { state: 'RETRY', error: { code: 'task_failed', message }, delaySeconds: 2 ** (attempt - 1) };
  }
  return failure('task_failed', message);
}

/** `TypeError`, `Error`…, or what was thrown when it is not an Error; never throws itself. */
function errorKind(error: unknown): string {
  if (error instanceof Error) return /^\w{1,64}$/.test(error.name) ? error.name : 'Error';
  return error === null ? 'null' : typeof error;
}

/** An error's message for a task's `error`, cut short; never throws (anything may be thrown). */
function describe(error: unknown): string {
  try {
    return cut(error instanceof Error ? error.message : String(error), 200);
  } catch {
    return typeof error;
  }
}

function failure(code: string, message: string): RunOutcome {
  return { state: 'FAILURE', error: { code, message: cut(message, MAX_MESSAGE_LENGTH) } };
}

function cut(text: string, length: number): string {
  return text.length > length ? `${text.slice(0, length - 1)}…` : text;
}

/**
 * Stores progress reports: the first at once, then at most one per interval, always the latest.
 * A write the record refuses abandons the task.
 */
class ProgressReporter {
  readonly #save: (progress: TaskProgress) => Promise<boolean>;
  readonly #intervalMs: number;
  readonly #clock: Clock;
  readonly #abandon: () => void;
  readonly #logger: Logger;
  #pending: TaskProgress | undefined;
  #lastSavedAt = Number.NEGATIVE_INFINITY;
  #timer: NodeJS.Timeout | undefined;
  #inFlight: Promise<void> | undefined;
  #closed = false;
  /** The latest report, stored or not. */
  last: TaskProgress | undefined;

  constructor(save: (progress: TaskProgress) => Promise<boolean>, intervalMs: number, clock: Clock, abandon: () => void, logger: Logger) {
    this.#save = save;
    this.#intervalMs = intervalMs;
    this.#clock = clock;
    this.#abandon = abandon;
    this.#logger = logger;
  }

  report(value: number | { readonly done: number; readonly total: number }, message?: string): void {
    if (this.#closed) return;
    let progress: TaskProgress;
    try {
      progress = toProgress(value, message, new Date(this.#clock.now()).toISOString());
    } catch (error) {
      // A bad report is the task's bug, but not a reason to fail the work it is doing.
      this.#logger.warn('ignoring a progress report', { error });
      return;
    }
    this.last = progress;
    this.#pending = progress;
    this.#schedule();
  }

  #schedule(): void {
    if (this.#inFlight || this.#timer || !this.#pending || this.#closed) return;
    const wait = this.#lastSavedAt + this.#intervalMs - this.#clock.now();
    if (wait > 0) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#flush();
      }, wait);
    } else {
      this.#flush();
    }
  }

  #flush(): void {
    const progress = this.#pending;
    if (!progress || this.#closed) return;
    this.#pending = undefined;
    this.#lastSavedAt = this.#clock.now();
    this.#inFlight = this.#save(progress)
      .then((kept) => {
        if (!kept) this.#abandon();
      })
      // Progress is best effort: a failed write is not the task's failure.
      .catch((error: unknown) => this.#logger.warn('could not store progress', { error }))
      .finally(() => {
        this.#inFlight = undefined;
        this.#schedule();
      });
  }

  /** No more writes; waits for the one in flight, so it cannot land after the task's end. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.#inFlight;
  }
}

function toProgress(value: number | { readonly done: number; readonly total: number }, message: string | undefined, at: string): TaskProgress {
  let fraction: number;
  let counts: { done: number; total: number } | undefined;
  if (typeof value === 'number') {
    fraction = value;
  } else {
    const { done, total } = value;
    if (!Number.isFinite(done) || !Number.isFinite(total) || total <= 0 || done < 0) {
      throw new RangeError(`progress({ done, total }) needs finite numbers, done >= 0 and total > 0; got done=${done}, total=${total}`);
    }
    counts = { done: Math.min(done, total), total };
    fraction = counts.done / total;
  }
  if (!Number.isFinite(fraction)) throw new RangeError(`progress needs a fraction from 0 to 1, got ${fraction}`);
  fraction = Math.round(Math.min(1, Math.max(0, fraction)) * 10_000) / 10_000;
  return {
    fraction,
    ...counts,
    ...(message !== undefined && message !== '' && { message: cut(String(message), MAX_PROGRESS_MESSAGE_LENGTH) }),
    at,
  };
}
