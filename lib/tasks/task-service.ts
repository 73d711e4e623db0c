import { InvalidRequestError, TaskError, TaskNotFoundError, UnavailableError } from '../errors.ts';
import { type Logger, silentLogger } from '../logger.ts';
import type { TaskQueue, TaskStore } from './ports.ts';
import { prepareTask } from './registry.ts';
import { type Task, isExpired, isTaskId, isTerminal, newTaskId } from './task.ts';
import { type BackoffSchedule, type Clock, pollUntil, systemClock } from './wait-policy.ts';

export interface TaskServiceOptions {
  readonly store: TaskStore;
  readonly queue: TaskQueue;
  /** How long a task stays readable, in seconds. */
  readonly taskTtlSeconds: number;
  readonly schedule?: BackoffSchedule;
  readonly clock?: Clock;
  readonly sleep?: (ms: number) => Promise<unknown>;
  readonly newId?: () => string;
  readonly logger?: Logger;
}

export interface TaskRequest {
  readonly name: string;
  readonly args: readonly unknown[];
}

/** Submits tasks, waits for their results and looks them up, on behalf of one user at a time. */
export class TaskService {
  readonly #store: TaskStore;
  readonly #queue: TaskQueue;
  readonly #ttlSeconds: number;
  readonly #schedule: BackoffSchedule | undefined;
  readonly #clock: Clock;
  readonly #sleep: ((ms: number) => Promise<unknown>) | undefined;
  readonly #newId: () => string;
  readonly #logger: Logger;

  constructor(options: TaskServiceOptions) {
    this.#store = options.store;
    this.#queue = options.queue;
    this.#ttlSeconds = options.taskTtlSeconds;
    this.#schedule = options.schedule;
    this.#clock = options.clock ?? systemClock;
    this.#sleep = options.sleep;
    this.#newId = options.newId ?? newTaskId;
    this.#logger = options.logger ?? silentLogger;
  }

  /**
   * Records the task (PENDING), queues it, then waits up to `waitMs` for a terminal state. Returns
   * the task as last seen: terminal when it finished in time.
   *
   * Order matters: the record is written before the message is sent, so a worker never meets a
   * message without a task; if the send fails the task is marked FAILURE, so nothing is left
   * PENDING that no worker will ever see.
   */
  async submit(owner: string, request: TaskRequest, waitMs: number): Promise<Task> {
    const prepared = asInvalidRequest(() => prepareTask(request.name, request.args));
    const nowMs = this.#clock.now();
    const now = new Date(nowMs).toISOString();
    const task: Task = {
      id: this.#newId(),
      owner,
      name: prepared.definition.name,
      args: prepared.args.map(String),
      state: 'PENDING',
      createdAt: now,
      updatedAt: now,
      expiresAt: Math.floor(nowMs / 1000) + this.#ttlSeconds,
    };
    await this.#store.create(task);
    try {
      await this.#queue.send({ taskId: task.id, name: task.name, args: [...task.args] });
    } catch (error) {
      await this.#failUnqueued(task);
      throw error;
    }
    try {
      return await this.#waitForEnd(owner, task, waitMs);
    } catch (error) {
      // The task is accepted and queued: a store hiccup while waiting must not make the caller
      // believe it was lost (and submit it twice). Answer with what we know; the lookup works later.
      if (error instanceof UnavailableError) {
        this.#logger.warn('store unavailable while waiting; deferring', { taskId: task.id, error });
        return task;
      }
      throw error;
    }
  }

  /** The caller's task, waiting up to `waitMs` for it to end. Another user's task is "not found". */
  async get(owner: string, id: string, waitMs: number): Promise<Task> {
    if (!isTaskId(id)) {
      throw new InvalidRequestError(`${JSON.stringify(id)} is not a task id; task ids look like task_<uuid>`);
    }
    const task = await this.#find(owner, id);
    return this.#waitForEnd(owner, task, waitMs);
  }

  async #waitForEnd(owner: string, task: Task, waitMs: number): Promise<Task> {
    if (isTerminal(task.state) || waitMs <= 0) return task;
    const last = await pollUntil(
      () => this.#find(owner, task.id),
      (current) => isTerminal(current.state),
      { budgetMs: waitMs, schedule: this.#schedule, clock: this.#clock, sleep: this.#sleep },
    );
    return last ?? task;
  }

  async #find(owner: string, id: string): Promise<Task> {
    const task = await this.#store.get(id);
    if (!task || task.owner !== owner || isExpired(task, this.#clock.now())) {
      throw new TaskNotFoundError(id);
    }
    return task;
  }

  async #failUnqueued(task: Task): Promise<void> {
    try {
      await this.#store.transition(task.id, {
        from: ['PENDING'],
        to: 'FAILURE',
        at: new Date(this.#clock.now()).toISOString(),
        error: { code: 'enqueue_failed', message: 'the task could not be queued; submit it again' },
      });
    } catch (error) {
      this.#logger.error('could not mark an unqueued task as failed', { taskId: task.id, error });
    }
  }
}

function asInvalidRequest<T>(run: () => T): T {
  try {
    return run();
  } catch (error) {
    if (error instanceof TaskError) throw new InvalidRequestError(error.message, { cause: error });
    throw error;
  }
}
