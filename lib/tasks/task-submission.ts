import type { Clock } from '../clock.ts';
import { InvalidRequestError, OpenTaskLimitError, TaskNotFoundError, UnavailableError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { IdempotencyStore, OpenTaskSlots, TaskQueue, TaskStore } from '../ports.ts';
import { type IdempotencyClaim, isClaimAbandoned } from './idempotency.ts';
import { type RunLater, type RunLaterLimits, delayUntil, resolveRunAt } from './run-later.ts';
import type { TaskEndings } from './task-endings.ts';
import { type Task, type TaskInput, isExpired, isTerminal } from './task.ts';
import { type BackoffSchedule, pollUntil } from './wait-policy.ts';

/** What TaskService works with, its options' defaults resolved. */
export interface SubmissionContext {
  readonly store: TaskStore;
  readonly queue: TaskQueue;
  readonly idempotency: IdempotencyStore | undefined;
  readonly ttlSeconds: number;
  readonly schedule: BackoffSchedule | undefined;
  readonly clock: Clock;
  readonly sleep: ((ms: number) => Promise<unknown>) | undefined;
  readonly newId: () => string;
  readonly logger: Logger;
  readonly runLater: RunLaterLimits;
  readonly slots: OpenTaskSlots | undefined;
  readonly openTaskLimit: (owner: string) => number;
  readonly endings: TaskEndings;
}

/** Seconds a submission refused for too many open tasks is told to wait: tasks end in seconds. */
const OPEN_TASKS_RETRY_AFTER_SECONDS = 1;

/**
 * Claims tried per request: a claim can be released or taken over between our failed write and our
 * read of it, so we try again, but never endlessly. Also the tries of a cancel whose write met a
 * state that moved.
 */
export const MAX_CLAIM_ATTEMPTS = 3;

/** A task's queue message. */
export function messageOf(task: Task) {
  return { taskId: task.id, name: task.name, args: task.args };
}

/** The queue's delay for a task to run later (it is within the queue's reach: not SCHEDULED). */
export function delayOf(task: Task, nowMs: number): { delaySeconds?: number } {
  const delaySeconds = task.runAt === undefined ? 0 : delayUntil(Date.parse(task.runAt), nowMs);
  return delaySeconds > 0 ? { delaySeconds } : {};
}

/**
 * The steps every submission takes, one task or a batch, with or without an Idempotency-Key: make
 * the task, take its open-task slots while the request's rate is decided, record and queue it, end
 * it if it could not be queued, give a key back, and wait for the task to end.
 */
export class TaskSubmission {
  readonly #context: SubmissionContext;

  constructor(context: SubmissionContext) {
    this.#context = context;
  }

  /**
   * A new task: PENDING, or, to run further ahead than the queue can delay a message, SCHEDULED. A
   * task to run later lives its whole life from when it runs, not from when it was submitted.
   */
  newTask(owner: string, input: TaskInput, runAtMs?: number, callbackUrl?: string, id = this.#context.newId()): Task {
    const nowMs = this.#context.clock.now();
    const now = new Date(nowMs).toISOString();
    const scheduled = runAtMs !== undefined && runAtMs - nowMs > this.#context.runLater.maxQueueDelaySeconds * 1000;
    return {
      id,
      owner,
      name: input.name,
      args: input.args,
      state: scheduled ? 'SCHEDULED' : 'PENDING',
      ...(runAtMs !== undefined && { runAt: new Date(runAtMs).toISOString() }),
      ...(callbackUrl !== undefined && { callbackUrl }),
      createdAt: now,
      updatedAt: now,
      expiresAt: Math.floor(Math.max(nowMs, runAtMs ?? 0) / 1000) + this.#context.ttlSeconds,
    };
  }

  /** When a task asked to run later is to run (epoch ms); a 400 for a time the limits refuse. */
  runAt(runLater: RunLater | undefined, nowMs = this.#context.clock.now()): number | undefined {
    return resolveRunAt(runLater, nowMs, this.#context.runLater);
  }

  /**
   * Takes an open-task slot for each of the owner's new tasks, all or none, while the request's
   * `admission` by its rate is decided: a 429 when either refuses. Slots taken for a request the
   * rate refused are given back.
   */
  async reserve(owner: string, tasks: readonly Task[], admission: Promise<void> = Promise.resolve()): Promise<void> {
    if (!this.#context.slots) return admission;
    const limit = this.#context.openTaskLimit(owner);
    // Never to fit, however many tasks end: not a 429 to retry, but a batch to split.
    if (tasks.length > limit) {
      await admission;
      throw new InvalidRequestError(`this batch holds ${tasks.length} tasks, more than the ${limit} open tasks you may have at once; split it`);
    }
    const slots = tasks.map((task) => ({ id: task.id, expiresAt: task.expiresAt }));
    const [admitted, reserved] = await Promise.allSettled([admission, this.#context.slots.reserve(owner, slots, limit, this.#context.clock.now())]);
    if (admitted.status === 'rejected') {
      if (reserved.status === 'fulfilled' && reserved.value.admitted) {
        await this.#context.slots.release(owner, slots.map((slot) => slot.id)).catch(() => {});
      }
      throw admitted.reason;
    }
    if (reserved.status === 'rejected') throw reserved.reason;
    const outcome = reserved.value;
    if (outcome.admitted) return;
    const asked = tasks.length === 1 ? 'another' : `${tasks.length} more`;
    throw new OpenTaskLimitError(
      `you have ${outcome.open} open tasks and may have at most ${limit} at once, so ${asked} cannot be accepted; ` +
        'wait for some to end, or cancel some (POST /tasks/{id}/cancel)',
      OPEN_TASKS_RETRY_AFTER_SECONDS,
    );
  }

  /**
   * Records the task, queues it and waits for it. With a `claim`, a task that could not be recorded
   * or queued gives its key back, so a retry with the same key is not stuck on a task that never ran.
   */
  async start(task: Task, waitMs: number, claim?: IdempotencyClaim, admission?: Promise<void>): Promise<Task> {
    try {
      await this.reserve(task.owner, [task], admission);
    } catch (error) {
      // Refused before anything was written: the key is free for a retry.
      if (claim) await this.release(claim);
      throw error;
    }
    // The wait counts from here: the worker may start as soon as the message is out.
    const sentAt = this.#context.clock.now();
    // A SCHEDULED task has no message yet: the sweeper sends it when it is nearly due.
    const [recorded, queued] = await Promise.allSettled([
      this.#context.store.create(task),
      task.state === 'SCHEDULED' ? Promise.resolve() : this.#context.queue.send(messageOf(task), delayOf(task, sentAt)),
    ]);
    if (queued.status === 'rejected') {
      // Whatever the record did (a write that failed may have been applied): nothing is left PENDING
      // that no worker will see. Unless a worker has started it already (a send that failed may have
      // been delivered), or it could not be marked (its record is then open without a message, which
      // the sweeper queues): then the task is accepted after all, and answered as such.
      const fate = await this.failUnqueued(task);
      if (recorded.status === 'fulfilled' && fate !== 'ended') {
        this.#context.logger.warn('a send failed, but the task is accepted', { taskId: task.id, fate, error: queued.reason });
        return this.waitForEnd(task.owner, task, waitMs, sentAt).catch(() => task);
      }
      // The key is freed only when the task surely never runs; otherwise a retry with it answers
      // with the task, should its record turn out written (or, after a minute, takes the key over).
      if (fate === 'ended') await this.#context.endings.ended(task, { notify: false });
      if (claim && fate === 'ended') await this.release(claim);
      throw queued.reason;
    }
    if (recorded.status === 'rejected') {
      // A write reported failed may have been applied after all, its message already sent (or, for a
      // SCHEDULED task, the sweeper would send it): unless a worker has it, make sure it never runs.
      const fate = await this.failUnqueued(task);
      if (fate === 'running') {
        this.#context.logger.warn('a record reported failed was written, and its task is running', { taskId: task.id, error: recorded.reason });
        return this.waitForEnd(task.owner, task, waitMs, sentAt).catch(() => task);
      }
      if (fate === 'ended') await this.#context.endings.ended(task, { notify: false });
      if (claim && fate === 'ended') await this.release(claim);
      throw recorded.reason;
    }
    // It runs later: there is nothing to wait for now.
    if (task.runAt !== undefined) return task;
    try {
      return await this.waitForEnd(task.owner, task, waitMs, sentAt);
    } catch (error) {
      // The task is accepted and queued: a store hiccup while waiting must not make the caller
      // believe it was lost (and submit it twice). Answer with what we know; the lookup works later.
      if (error instanceof UnavailableError) {
        this.#context.logger.warn('store unavailable while waiting; deferring', { taskId: task.id, error });
        return task;
      }
      throw error;
    }
  }

  /**
   * The task a claim stands for, waited for up to `waitMs` like a fresh submission. `undefined` when
   * it still does not exist (its request is between its two writes, or died there).
   */
  async replay(owner: string, claim: IdempotencyClaim, waitMs: number): Promise<Task | undefined> {
    let seen: Task | undefined;
    const read = async () => {
      const task = await this.#context.store.get(claim.taskId);
      const current = task && task.owner === owner && !isExpired(task, this.#context.clock.now()) ? task : undefined;
      seen = current ?? seen;
      return current;
    };
    const first = await read();
    // A task to run later is not waited for, in a replay as in its first request.
    if (first && (isTerminal(first.state) || waitMs <= 0 || first.runAt !== undefined)) return first;
    // No task behind an old claim: nobody is coming to write it; do not wait for it.
    if (!first && (waitMs <= 0 || isClaimAbandoned(claim, this.#context.clock.now()))) return undefined;
    try {
      await pollUntil(read, (task) => task !== undefined && isTerminal(task.state), {
        budgetMs: waitMs,
        schedule: this.#context.schedule,
        clock: this.#context.clock,
        sleep: this.#context.sleep,
      });
    } catch (error) {
      // As in `submit`: once the task is known to exist, a store hiccup defers rather than fails.
      if (!(seen && error instanceof UnavailableError)) throw error;
      this.#context.logger.warn('store unavailable while waiting for a replayed task; deferring', { taskId: seen.id, error });
    }
    return seen;
  }

  /**
   * Ends a task whose record or message failed: FAILURE `enqueue_failed`, unless a worker has
   * started it. `ended` when the task is (now) FAILURE or has no record; `running` when a worker has
   * it (or it moved on otherwise); `unknown` when the store could not say.
   */
  async failUnqueued(task: Task): Promise<'ended' | 'running' | 'unknown'> {
    try {
      const failed = await this.#context.store.transition(task.id, {
        from: ['SCHEDULED', 'PENDING'],
        to: 'FAILURE',
        at: new Date(this.#context.clock.now()).toISOString(),
        error: { code: 'enqueue_failed', message: 'the task could not be queued; submit it again' },
        unlessStarted: true,
      });
      if (failed) return 'ended';
      const current = await this.#context.store.get(task.id);
      return current === undefined || current.error?.code === 'enqueue_failed' ? 'ended' : 'running';
    } catch (error) {
      this.#context.logger.error('could not mark an unqueued task as failed', { taskId: task.id, error });
      return 'unknown';
    }
  }

  /** Gives a claim back, best effort: if this fails, a later request takes it over (see submitOnce). */
  async release(claim: IdempotencyClaim): Promise<void> {
    try {
      await this.#context.idempotency?.release(claim.id, claim.taskId);
    } catch (error) {
      this.#context.logger.warn('could not release an idempotency key', { taskId: claim.taskId, error });
    }
  }

  /** The store of Idempotency-Key claims; an Error when the service was built without one. */
  idempotencyStore(): IdempotencyStore {
    if (!this.#context.idempotency) throw new Error('this TaskService has no idempotency store; pass `idempotency` to its constructor');
    return this.#context.idempotency;
  }

  /** The task as last read within `waitMs` (counted from `startedAt`, if given): ended when it ended in time. */
  async waitForEnd(owner: string, task: Task, waitMs: number, startedAt?: number): Promise<Task> {
    if (isTerminal(task.state) || waitMs <= 0) return task;
    const last = await pollUntil(
      () => this.find(owner, task.id),
      (current) => isTerminal(current.state),
      { budgetMs: waitMs, schedule: this.#context.schedule, clock: this.#context.clock, sleep: this.#context.sleep, startedAt },
    );
    return last ?? task;
  }

  /** The owner's task; TaskNotFoundError for another owner's, an expired or an unknown one. */
  async find(owner: string, id: string): Promise<Task> {
    const task = await this.#context.store.get(id);
    if (!task || task.owner !== owner || isExpired(task, this.#context.clock.now())) {
      throw new TaskNotFoundError(id);
    }
    return task;
  }
}
