import { setTimeout as sleep } from 'node:timers/promises';
import { type Logger, silentLogger } from '../logger.ts';
import { notifyAtAfterEnd } from '../webhooks/delivery-schedule.ts';
import type { MessageLease, StateChange, TaskStore } from '../ports.ts';
import { RUNNABLE_STATES, type Task, type TaskFailure, type TaskProgress, isExpired, isSameInput, isTerminal } from './task.ts';
import type { TaskEndings } from './task-endings.ts';
import type { TaskCatalog } from './task-catalog.ts';
import { type TaskMessage, decodeTaskMessage } from './task-message.ts';
import { type RunOutcome, runTask } from './task-runner.ts';
import { type Clock, systemClock } from '../clock.ts';

export interface TaskWorkerOptions {
  readonly store: TaskStore;
  readonly catalog: TaskCatalog;
  /**
   * The task queue's visibility timeout: a task still running after a third of it has its message
   * hidden again for that long (with the delivery's lease), every third of it, so no other worker
   * starts it. Without it (or without a lease) there is no heartbeat.
   */
  readonly visibilityTimeoutSeconds?: number;
  /** Least time between two stored progress reports of one task. */
  readonly progressIntervalMs?: number;
  /**
   * How often a running task's record is read to see whether it was cancelled (or ended elsewhere):
   * then its signal fires. A task that ends sooner costs no read.
   */
  readonly cancelCheckIntervalMs?: number;
  readonly clock?: Clock;
  /** How the worker pauses while a task's record is not there yet (tests pass a fake). */
  readonly sleep?: (ms: number) => Promise<unknown>;
  readonly logger?: Logger;
  /** Told of each task the worker ended (its webhook, its owner's open-task slot); none in unit tests. */
  readonly endings?: TaskEndings;
}

/** What the queue says about one delivery of a message, beside its body. */
export interface Delivery {
  /** SQS's ApproximateReceiveCount: 1 on the first delivery, more once earlier ones did not finish. */
  readonly receiveCount?: number;
  /** The worker's hold on the message (SQS: its receipt handle). */
  readonly lease?: MessageLease;
}

/** What became of one message. Anything else is thrown, and the message is delivered again. */
export type ProcessOutcome = 'SUCCESS' | 'FAILURE' | 'skipped';

/** A message that is not a task message at all: it fails alone and ends in the dead-letter queue. */
export class PoisonMessageError extends Error {
  override readonly name = 'PoisonMessageError';
}

/** A task threw and has retries left: its message comes back after a pause (the lease sets it). */
export class TaskRetryError extends Error {
  override readonly name = 'TaskRetryError';
}

/**
 * A message whose task has no record, even after a wait: the API records and queues at once, and
 * its record failed (it answered 503), or the message names no task at all. The message comes back
 * a few times, then ends in the dead-letter queue, which finds no task to end either.
 */
export class TaskNotRecordedError extends Error {
  override readonly name = 'TaskNotRecordedError';
}

/**
 * Pauses between reads while a task's record is not there yet, in ms: the API writes it at the
 * same time as the message, so it is nearly always there first, and late by milliseconds otherwise.
 */
const RECORD_WAIT_MS = [5, 10, 20, 40, 80, 160, 320];
/**
 * When a running task's record is first read to see whether it is still open: soon, so that a pure
 * task cancelled while it waited in the queue (it starts without a read) is stopped within a few
 * milliseconds; not at once, so that the quick tasks, done before then, cost no read at all.
 */
const FIRST_OPEN_CHECK_MS = 10;
/** When a message whose record did not appear comes back, in seconds. */
const NOT_RECORDED_RETRY_SECONDS = 2;

/**
 * Runs queued tasks. Every state change is a conditional write, so a message delivered twice, or two
 * workers racing on it, yields one result that is never overwritten.
 *
 * A queue message is input, not truth: the worker validates its args with the task's own schema
 * (TaskCatalog.prepare), and every write, progress included, is conditioned on the task's record
 * holding the name and args the message claims (`StateChange.input`). A message that names a real
 * task with another input computes nothing that is kept: its first progress report or its end is
 * refused, and a refused progress report stops the run.
 */
export class TaskWorker {
  readonly #store: TaskStore;
  readonly #catalog: TaskCatalog;
  readonly #visibilityTimeoutSeconds: number | undefined;
  readonly #progressIntervalMs: number | undefined;
  readonly #cancelCheckIntervalMs: number;
  readonly #clock: Clock;
  readonly #sleep: (ms: number) => Promise<unknown>;
  readonly #logger: Logger;
  readonly #endings: TaskEndings | undefined;

  constructor(options: TaskWorkerOptions) {
    this.#endings = options.endings;
    this.#store = options.store;
    this.#catalog = options.catalog;
    this.#visibilityTimeoutSeconds = options.visibilityTimeoutSeconds;
    this.#progressIntervalMs = options.progressIntervalMs;
    this.#cancelCheckIntervalMs = options.cancelCheckIntervalMs ?? 1_000;
    this.#clock = options.clock ?? systemClock;
    this.#sleep = options.sleep ?? sleep;
    this.#logger = options.logger ?? silentLogger;
  }

  /**
   * Processes one message from the task queue. The task's outcome (SUCCESS, or FAILURE with a code)
   * is written in one conditional write; infrastructure errors mark it RETRY and are rethrown, so
   * the queue delivers the message again, and after its maxReceiveCount moves it to the dead-letter
   * queue. A task that threw with retries left is marked RETRY and comes back after a pause.
   *
   * A task that is not pure starts only once a conditional write has marked it started in its
   * record, which is refused for a task cancelled, ended, or holding another input: such a task
   * never starts. A pure task (no effect but its result) starts at once, the hot path, and its
   * record is read 10 ms into the run and every second after: one cancelled or ended meanwhile is
   * stopped through its signal, and whatever it returns is refused by the end write's condition. A
   * redelivery first marks the task RETRY with a conditional write that checks the same: the
   * record then shows that an earlier delivery did not end it (its worker died, or hit an outage),
   * which the dead-letter handler requires before it gives up on the task.
   */
  async process(body: string, delivery: Delivery = {}): Promise<ProcessOutcome> {
    const message = decode(body);
    const attempt = delivery.receiveCount ?? 1;
    try {
      if (attempt > 1 && !(await this.#writeRecorded(message, { from: RUNNABLE_STATES, to: 'RETRY' }, delivery.lease))) {
        return await this.#skip(message);
      }
      const prepared = this.#catalog.prepare(message.name, message.args);
      // Not pure: act only on what is recorded and open (the write is refused for a message with
      // other args, and for a task that was cancelled or has ended), so such a task never starts.
      if (prepared.ok && !prepared.task.definition.pure) {
        const started = () => this.#store.markStarted(message.taskId, this.#now(), message);
        if (!(await this.#whenRecorded(message, started, delivery.lease))) return await this.#skip(message);
      }
      const outcome: RunOutcome = prepared.ok
        ? await this.#withHeartbeat(delivery.lease, () =>
            this.#whileOpen(message, (signal) =>
              runTask(prepared.task, {
                taskId: message.taskId,
                attempt,
                saveProgress: (progress) => this.#saveProgress(message, progress),
                progressIntervalMs: this.#progressIntervalMs,
                signal,
                clock: this.#clock,
                logger: this.#logger,
              }),
            ),
          )
        : { state: 'FAILURE', error: prepared.refused };
      return await this.#end(message, outcome, delivery.lease);
    } catch (error) {
      if (!(error instanceof TaskRetryError || error instanceof TaskNotRecordedError)) await this.#markRetry(message);
      throw error;
    }
  }

  /**
   * Processes one message from the dead-letter queue: the task's retries are spent, so it ends in
   * FAILURE, but only if its record shows that a worker really attempted it (state RETRY). A task
   * still PENDING was never seen to fail: a message put straight on the dead-letter queue, or one
   * whose every delivery met a store outage, does not end it; it stays open and the sweeper queues
   * it again. A body that is not a task message names no task to fail; it is logged and dropped.
   */
  async failExhausted(body: string): Promise<ProcessOutcome> {
    let message: TaskMessage;
    try {
      message = decode(body);
    } catch (error) {
      this.#logger.error('dropping a dead letter that is not a task message', { error, body: body.slice(0, 1024) });
      return 'skipped';
    }
    const failure = { code: 'retries_exhausted', message: 'the task could not be completed after repeated attempts' };
    const failed = await this.#write(message, { from: ['RETRY'], to: 'FAILURE', error: failure });
    if (!failed) return this.#skip(message);
    await this.#endings?.ended(failed, { notify: true });
    this.#logger.info('task ended', { taskId: message.taskId, state: 'FAILURE', code: failure.code });
    return 'FAILURE';
  }

  /**
   * Writes how the run ended. There is no STARTED write before a run: for the tasks that take
   * milliseconds no caller could see it, and it would cost a write per task; a long task shows it is
   * running by its progress. A duplicate delivery thus runs again, and its end is refused because
   * the task has already ended (a long one stops at its first refused progress report).
   */
  async #end(message: TaskMessage, outcome: RunOutcome, lease: MessageLease | undefined): Promise<ProcessOutcome> {
    if (outcome.state === 'ABANDONED') return this.#skip(message);
    if (outcome.state === 'RETRY') return this.#retryLater(message, outcome.error, outcome.delaySeconds, lease);
    const change: Omit<StateChange, 'at' | 'input'> =
      outcome.state === 'SUCCESS'
        ? { from: RUNNABLE_STATES, to: 'SUCCESS', result: outcome.result, ...(outcome.progress && { progress: outcome.progress }) }
        : { from: RUNNABLE_STATES, to: 'FAILURE', error: outcome.error };
    const ended = await this.#writeRecorded(message, change, lease);
    if (!ended) return this.#skip(message);
    // After the write, never before: a caller waiting for the result sees it without this.
    await this.#endings?.ended(ended, { notify: true });
    this.#logger.info('task ended', {
      taskId: message.taskId,
      task: message.name,
      state: change.to,
      ...(outcome.state === 'FAILURE' && { code: outcome.error.code }),
    });
    return outcome.state;
  }

  /** Marks the task RETRY, sets when its message comes back, and hands it back to the queue. */
  async #retryLater(message: TaskMessage, error: TaskFailure, delaySeconds: number, lease: MessageLease | undefined): Promise<never> {
    await this.#markRetry(message);
    await lease?.extend(delaySeconds).catch((cause: unknown) => {
      // The message then comes back after the queue's visibility timeout instead.
      this.#logger.warn('could not set when a retried task comes back', { taskId: message.taskId, error: cause });
    });
    throw new TaskRetryError(`${error.message}; trying again in ${delaySeconds} s`);
  }

  /**
   * Runs `work` while keeping the message hidden: every third of the visibility timeout it is hidden
   * for a whole one again, so a task longer than the timeout is never started by a second worker.
   */
  async #withHeartbeat<T>(lease: MessageLease | undefined, work: () => Promise<T>): Promise<T> {
    const seconds = this.#visibilityTimeoutSeconds;
    if (!lease || !seconds) return work();
    const heartbeat = setInterval(() => {
      lease.extend(seconds).catch((error: unknown) => this.#logger.warn('could not keep a running task hidden', { error }));
    }, (seconds * 1000) / 3);
    try {
      return await work();
    } finally {
      clearInterval(heartbeat);
    }
  }

  /**
   * Runs `work` with a signal that fires once the task's record is no longer open (its owner
   * cancelled it, or it ended elsewhere): the record is read every `cancelCheckIntervalMs` while
   * the task runs. A failed read is no news; the task's end write is conditioned on an open state
   * anyway, so a cancelled task's result is never written even if no read saw it.
   */
  async #whileOpen<T>(message: TaskMessage, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const controller = new AbortController();
    let watch: NodeJS.Timeout | undefined;
    let done = false;
    const check = (): void => {
      this.#store
        .get(message.taskId)
        .then((task) => {
          // A read still on its way when the run ended may see the run's own end: nothing to stop.
          if (done) return;
          // Ended, cancelled or expired. (A record not there yet is left alone: it may be late, and
          // the end write waits for it.)
          if (task && (!RUNNABLE_STATES.includes(task.state) || isExpired(task, this.#clock.now()))) {
            this.#logger.info('stopping a task that is no longer open', { taskId: message.taskId, state: task.state });
            controller.abort();
          }
        })
        .catch(() => {})
        .finally(() => {
          if (!done && !controller.signal.aborted) watch = setTimeout(check, this.#cancelCheckIntervalMs);
        });
    };
    watch = setTimeout(check, FIRST_OPEN_CHECK_MS);
    try {
      return await work(controller.signal);
    } finally {
      done = true;
      clearTimeout(watch);
    }
  }

  /**
   * `#write`, and when it is refused because the task has no record yet, the same write again once
   * the record is there (after a wait of at most about 0.6 s; then TaskNotRecordedError, and the
   * message comes back in a moment). False when the record refused it.
   */
  async #writeRecorded(message: TaskMessage, change: Omit<StateChange, 'at' | 'input'>, lease: MessageLease | undefined): Promise<Task | undefined> {
    return this.#whenRecorded(message, () => this.#write(message, change), lease);
  }

  /**
   * `write` (a conditional write), tried once more when the task's record is there: a refusal is
   * believed only from a write made once the record was seen, since the record may land between a
   * write refused for its absence and the read that finds it.
   */
  async #whenRecorded<T>(message: TaskMessage, write: () => Promise<T>, lease: MessageLease | undefined): Promise<T> {
    const first = await write();
    if (first) return first;
    for (const pause of [0, ...RECORD_WAIT_MS]) {
      if (pause > 0) await this.#sleep(pause);
      if ((await this.#store.get(message.taskId)) !== undefined) return write();
    }
    await lease?.extend(NOT_RECORDED_RETRY_SECONDS).catch(() => {});
    throw new TaskNotRecordedError(`task ${message.taskId} has no record; it was not accepted, or its record is late`);
  }

  /**
   * Stores progress. Refused while the record is not there yet is not refused (the record is on its
   * way); refused with the record there is believed only from a write made once it was seen.
   */
  async #saveProgress(message: TaskMessage, progress: TaskProgress): Promise<boolean> {
    const save = () => this.#store.saveProgress(message.taskId, progress, message);
    if (await save()) return true;
    return (await this.#store.get(message.taskId)) === undefined || save();
  }

  /**
   * A conditional write of `change`, only while the record holds the message's input: the task as
   * written, or undefined when the record refused it. An end is written with the time its completion
   * webhook is sent again should the notice sent after it be lost.
   */
  async #write(message: TaskMessage, change: Omit<StateChange, 'at' | 'input'>): Promise<Task | undefined> {
    const input = { name: message.name, args: message.args };
    const atMs = this.#clock.now();
    const notifyAt = isTerminal(change.to) ? { notifyAt: notifyAtAfterEnd(atMs) } : {};
    return this.#store.transition(message.taskId, { ...change, at: new Date(atMs).toISOString(), input, ...notifyAt });
  }

  /**
   * A write was refused: says why in the log, from the record (read only on this path), and drops
   * the message. A task that ended or expired is the common case (a duplicate delivery); a record
   * whose input differs from the message's is not, and is logged as a warning.
   */
  async #skip(message: TaskMessage): Promise<'skipped'> {
    const task = await this.#store.get(message.taskId).catch(() => undefined);
    if (task && !isSameInput(task, message)) {
      this.#logger.warn('dropping a message whose input disagrees with its task', {
        taskId: message.taskId,
        messageName: message.name.slice(0, 64),
        taskName: task.name,
      });
    } else {
      this.#logger.info('skipping a task that is not runnable', { taskId: message.taskId, state: task?.state ?? 'missing' });
    }
    return 'skipped';
  }

  async #markRetry(message: TaskMessage): Promise<void> {
    try {
      await this.#write(message, { from: RUNNABLE_STATES, to: 'RETRY' });
    } catch (error) {
      // The store is likely the thing that failed; the redelivery will try again.
      this.#logger.warn('could not mark task for retry', { taskId: message.taskId, error });
    }
  }

  #now(): string {
    return new Date(this.#clock.now()).toISOString();
  }
}

function decode(body: string): TaskMessage {
  try {
    return decodeTaskMessage(body);
  } catch (error) {
    throw new PoisonMessageError('the message body is not a task message', { cause: error });
  }
}
