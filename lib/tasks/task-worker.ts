import { TaskError } from '../errors.ts';
import { type Logger, silentLogger } from '../logger.ts';
import type { StateChange, TaskStore } from './ports.ts';
import { prepareTask, runTask } from './registry.ts';
import { RUNNABLE_STATES, type TaskFailure, isSameInput } from './task.ts';
import { type TaskMessage, decodeTaskMessage } from './task-message.ts';
import { type Clock, systemClock } from './wait-policy.ts';

export interface TaskWorkerOptions {
  readonly store: TaskStore;
  readonly clock?: Clock;
  readonly logger?: Logger;
}

/** What the queue says about one delivery of a message, beside its body. */
export interface Delivery {
  /** SQS's ApproximateReceiveCount: 1 on the first delivery, more once earlier ones did not finish. */
  readonly receiveCount?: number;
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
 *
 * A queue message is input, not truth: every write is also conditioned on the task's record holding
 * the name and args the message claims (`StateChange.input`). A message that names a real task with
 * another input (forged, or corrupted on the way) computes nothing that is kept and changes no task.
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
   *
   * A redelivery first marks the task RETRY: the record then shows that an earlier delivery did not
   * end it (its worker died, or hit an outage), which the dead-letter handler requires before it
   * gives up on the task. A first delivery skips that write: it is the hot path.
   */
  async process(body: string, delivery: Delivery = {}): Promise<ProcessOutcome> {
    const message = decode(body);
    try {
      if ((delivery.receiveCount ?? 1) > 1 && !(await this.#write(message, { from: RUNNABLE_STATES, to: 'RETRY' }))) {
        return await this.#skip(message);
      }
      return await this.#run(message);
    } catch (error) {
      await this.#markRetry(message);
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
    this.#logger.info('task ended', { taskId: message.taskId, state: 'FAILURE', code: failure.code });
    return 'FAILURE';
  }

  /**
   * Computes the task, then writes its end state in one conditional write. There is no STARTED
   * write before it: no caller could see a state that lasts as long as add or mul take, and it would
   * cost a DynamoDB write per task. A duplicate delivery thus computes again, and its write is
   * refused because the task has already ended.
   */
  async #run(message: TaskMessage): Promise<ProcessOutcome> {
    let outcome: { result: string } | TaskFailure;
    try {
      outcome = { result: runTask(prepareTask(message.name, message.args)).toString() };
    } catch (error) {
      if (!(error instanceof TaskError)) throw error;
      outcome = { code: error.code, message: error.message };
    }
    const change =
      'result' in outcome
        ? ({ from: RUNNABLE_STATES, to: 'SUCCESS', result: outcome.result } as const)
        : ({ from: RUNNABLE_STATES, to: 'FAILURE', error: outcome } as const);
    if (!(await this.#write(message, change))) return this.#skip(message);
    this.#logger.info('task ended', { taskId: message.taskId, state: change.to, ...('code' in outcome && { code: outcome.code }) });
    return change.to;
  }

  /** A conditional write of `change`, only while the record holds the message's input. */
  async #write(message: TaskMessage, change: Omit<StateChange, 'at' | 'input'>): Promise<boolean> {
    const input = { name: message.name, args: message.args };
    return (await this.#store.transition(message.taskId, { ...change, at: this.#now(), input })) !== undefined;
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
