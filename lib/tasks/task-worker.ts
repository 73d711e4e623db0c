import { TaskError } from '../errors.ts';
import { type Logger, silentLogger } from '../logger.ts';
import type { StateChange, TaskStore } from './ports.ts';
import { prepareTask, runTask } from './registry.ts';
import { RUNNABLE_STATES, type TaskFailure } from './task.ts';
import { type TaskMessage, decodeTaskMessage } from './task-message.ts';
import { type Clock, systemClock } from './wait-policy.ts';

export interface TaskWorkerOptions {
  readonly store: TaskStore;
  readonly clock?: Clock;
  readonly logger?: Logger;
}

/** What became of one message. Anything else is thrown, and the message is delivered again. */
export type ProcessOutcome = 'SUCCESS' | 'FAILURE' | 'skipped';

/** A message that is not a task message at all: it fails alone and ends in the dead-letter queue. */
export class PoisonMessageError extends Error {
  override readonly name = 'PoisonMessageError';
}

/**
 * Runs queued tasks. Every state change is a conditional write, so a message delivered twice, or two
 * workers racing on it, yields one result that is never overwritten.
 */
export class TaskWorker {
  readonly #store: TaskStore;
  readonly #clock: Clock;
  readonly #logger: Logger;

  constructor(options: TaskWorkerOptions) {
    this.#store = options.store;
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger ?? silentLogger;
  }

  /**
   * Processes one message from the task queue. Task errors end the task in FAILURE (a retry would
   * fail the same way); infrastructure errors mark it RETRY and are rethrown, so the queue delivers
   * the message again, and after maxReceiveCount moves it to the dead-letter queue.
   */
  async process(body: string): Promise<ProcessOutcome> {
    const message = decode(body);
    try {
      return await this.#run(message);
    } catch (error) {
      await this.#markRetry(message.taskId);
      throw error;
    }
  }

  /**
   * Processes one message from the dead-letter queue: the task's retries are spent, so it ends in
   * FAILURE unless it already ended. A body that is not a task message names no task to fail; it is
   * logged and dropped.
   */
  async failExhausted(body: string): Promise<ProcessOutcome> {
    let message: TaskMessage;
    try {
      message = decode(body);
    } catch (error) {
      this.#logger.error('dropping a dead letter that is not a task message', { error, body: body.slice(0, 1024) });
      return 'skipped';
    }
    const failed = await this.#finish(message.taskId, {
      code: 'retries_exhausted',
      message: 'the task could not be completed after repeated attempts',
    });
    return failed ? 'FAILURE' : 'skipped';
  }

  /**
   * Computes the task, then writes its end state in one conditional write. There is no STARTED
   * write before it: add and mul run in microseconds, so no caller could ever see that state, and it
   * cost one DynamoDB write and about 1.6 ms per task (BENCHMARKS.md). A duplicate delivery thus
   * computes again, and its write is refused because the task has already ended.
   */
  async #run(message: TaskMessage): Promise<ProcessOutcome> {
    let outcome: { result: string } | TaskFailure;
    try {
      outcome = { result: runTask(prepareTask(message.name, message.args)).toString() };
    } catch (error) {
      if (!(error instanceof TaskError)) throw error;
      outcome = { code: error.code, message: error.message };
    }
    const finished = await this.#finish(message.taskId, outcome);
    if (!finished) {
      // Already ended (a duplicate delivery), or expired and gone: nothing to do.
      this.#logger.info('skipping a task that is not runnable', { taskId: message.taskId });
      return 'skipped';
    }
    return 'result' in outcome ? 'SUCCESS' : 'FAILURE';
  }

  /** Writes the terminal state unless another delivery got there first. */
  async #finish(taskId: string, outcome: { result: string } | TaskFailure): Promise<boolean> {
    const change: StateChange =
      'result' in outcome
        ? { from: RUNNABLE_STATES, to: 'SUCCESS', at: this.#now(), result: outcome.result }
        : { from: RUNNABLE_STATES, to: 'FAILURE', at: this.#now(), error: outcome };
    return (await this.#store.transition(taskId, change)) !== undefined;
  }

  async #markRetry(taskId: string): Promise<void> {
    try {
      await this.#store.transition(taskId, { from: ['PENDING'], to: 'RETRY', at: this.#now() });
    } catch (error) {
      // The store is likely the thing that failed; the redelivery will try again.
      this.#logger.warn('could not mark task for retry', { taskId, error });
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
