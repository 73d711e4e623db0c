import { IdempotencyKeyReusedError, RequestInProgressError, TaskNotFoundError, UnavailableError } from '../errors.ts';
import { type Logger, silentLogger } from '../logger.ts';
import {
  IDEMPOTENCY_WINDOW_SECONDS,
  type IdempotencyClaim,
  idempotencyClaimId,
  isClaimAbandoned,
  claimMatches,
  isClaimExpired,
} from './idempotency.ts';
import type { IdempotencyStore, TaskQueue, TaskStore } from './ports.ts';
import { type Task, type TaskInput, isExpired, isTerminal, newTaskId, taskInputDigest } from './task.ts';
import { type BackoffSchedule, type Clock, pollUntil, systemClock } from './wait-policy.ts';

export interface TaskServiceOptions {
  readonly store: TaskStore;
  readonly queue: TaskQueue;
  /** Where Idempotency-Key claims live; needed only by `submitOnce`. */
  readonly idempotency?: IdempotencyStore;
  /** How long a task stays readable, in seconds. */
  readonly taskTtlSeconds: number;
  readonly schedule?: BackoffSchedule;
  readonly clock?: Clock;
  readonly sleep?: (ms: number) => Promise<unknown>;
  readonly newId?: () => string;
  readonly logger?: Logger;
}

/** A task submitted with an idempotency key, and whether it came from an earlier request. */
export interface SubmitOnceResult {
  readonly task: Task;
  /** True when the key had already been used for this request: no task was created this time. */
  readonly replayed: boolean;
}

/**
 * Claims tried per request: a claim can be released or taken over between our failed write and our
 * read of it, so we try again, but never endlessly.
 */
const MAX_CLAIM_ATTEMPTS = 3;

/**
 * Submits tasks, waits for their results and looks them up, on behalf of one user at a time. It
 * receives what the HTTP edge has validated (a task's canonical input from TaskCatalog, a task id,
 * an Idempotency-Key) and checks none of it again.
 */
export class TaskService {
  readonly #store: TaskStore;
  readonly #queue: TaskQueue;
  readonly #idempotency: IdempotencyStore | undefined;
  readonly #ttlSeconds: number;
  readonly #schedule: BackoffSchedule | undefined;
  readonly #clock: Clock;
  readonly #sleep: ((ms: number) => Promise<unknown>) | undefined;
  readonly #newId: () => string;
  readonly #logger: Logger;

  constructor(options: TaskServiceOptions) {
    this.#store = options.store;
    this.#queue = options.queue;
    this.#idempotency = options.idempotency;
    this.#ttlSeconds = options.taskTtlSeconds;
    this.#schedule = options.schedule;
    this.#clock = options.clock ?? systemClock;
    this.#sleep = options.sleep;
    this.#newId = options.newId ?? newTaskId;
    this.#logger = options.logger ?? silentLogger;
  }

  /**
   * Records the task (PENDING) and queues it, both at once, then waits up to `waitMs` for a
   * terminal state. Returns the task as last seen: terminal when it finished in time.
   *
   * The record and the message are written together, not one after the other (a DynamoDB write's
   * time off every answer). A worker that meets a message before its record waits for the record
   * (TaskWorker), so the order does not matter. If the record fails, the request fails: a message
   * sent anyway finds no record, runs nothing that is kept, and ends in the dead-letter queue. If
   * the send fails, the task is marked FAILURE, so nothing is left PENDING that no worker will see.
   */
  async submit(owner: string, input: TaskInput, waitMs: number): Promise<Task> {
    return this.#start(this.#newTask(owner, input), waitMs);
  }

  /**
   * `submit` under an idempotency key: the same key from the same owner within 24 h stands for one
   * task, created and queued once, however many requests carry it and however they interleave.
   *
   * The first request wins a conditional write of a claim (key -> task id), then records and queues
   * the task as `submit` does. Any other request with the key reads the claim: another body is
   * refused (422); the same body gets the claimed task (`replayed`), waited for like a fresh one.
   * While the first request is between its two writes the task does not exist yet: we poll for it
   * within the wait, then answer 409 request_in_progress. A first request that could not record or
   * queue its task releases the claim, so a retry with the key starts afresh; if that release fails
   * too, the claim is taken over once its task turns out never queued (FAILURE enqueue_failed) or,
   * when there is no task at all (the request died between its writes), once it is abandoned.
   */
  async submitOnce(owner: string, key: string, input: TaskInput, waitMs: number): Promise<SubmitOnceResult> {
    const idempotency = this.#idempotency;
    if (!idempotency) throw new Error('this TaskService has no idempotency store; pass `idempotency` to its constructor');
    const claimId = idempotencyClaimId(owner, key);
    const digest = taskInputDigest(input);
    let replacing: string | undefined;
    for (let attempt = 0; attempt < MAX_CLAIM_ATTEMPTS; attempt += 1) {
      const task = this.#newTask(owner, input);
      const nowMs = Date.parse(task.createdAt);
      const claim: IdempotencyClaim = {
        id: claimId,
        owner,
        taskId: task.id,
        requestDigest: digest,
        createdAt: task.createdAt,
        // Never outlive the task: a replay must find what the key stands for.
        expiresAt: Math.min(task.expiresAt, Math.floor(nowMs / 1000) + IDEMPOTENCY_WINDOW_SECONDS),
      };
      if ((await idempotency.claim(claim, { nowMs, replacing })) === 'claimed') {
        return { task: await this.#start(task, waitMs, claim), replayed: false };
      }
      const existing = await idempotency.get(claimId);
      // Released (its request failed) or expired since our write: claim it again.
      if (!existing || isClaimExpired(existing, this.#clock.now())) {
        replacing = undefined;
        continue;
      }
      if (!claimMatches(existing, input)) {
        throw new IdempotencyKeyReusedError(
          'this Idempotency-Key was already used for a different request; use a new key for a new request',
        );
      }
      const replayed = await this.#replay(owner, existing, waitMs);
      // A task that was never queued did no work: its key is free (its request failed to free it).
      const neverQueued = replayed?.error?.code === 'enqueue_failed';
      if (replayed && !neverQueued) return { task: replayed, replayed: true };
      if (!replayed && !isClaimAbandoned(existing, this.#clock.now())) break;
      replacing = existing.taskId;
    }
    throw new RequestInProgressError('a request with this Idempotency-Key is still being processed; retry shortly');
  }

  #newTask(owner: string, input: TaskInput): Task {
    const nowMs = this.#clock.now();
    const now = new Date(nowMs).toISOString();
    return {
      id: this.#newId(),
      owner,
      name: input.name,
      args: input.args,
      state: 'PENDING',
      createdAt: now,
      updatedAt: now,
      expiresAt: Math.floor(nowMs / 1000) + this.#ttlSeconds,
    };
  }

  /**
   * Records the task, queues it and waits for it. With a `claim`, a task that could not be recorded
   * or queued gives its key back, so a retry with the same key is not stuck on a task that never ran.
   */
  async #start(task: Task, waitMs: number, claim?: IdempotencyClaim): Promise<Task> {
    // The wait counts from here: the worker may start as soon as the message is out.
    const sentAt = this.#clock.now();
    const [recorded, queued] = await Promise.allSettled([
      this.#store.create(task),
      this.#queue.send({ taskId: task.id, name: task.name, args: task.args }),
    ]);
    if (queued.status === 'rejected') {
      // Whatever the record did (a write that failed may have been applied): nothing is left PENDING
      // that no worker will see. Unless a worker has started it already (a send that failed may have
      // been delivered): then the task is accepted after all, and answered as such.
      if (!(await this.#failUnqueued(task)) && recorded.status === 'fulfilled') {
        this.#logger.warn('a send that failed was delivered: its task is running', { taskId: task.id, error: queued.reason });
        return this.#waitForEnd(task.owner, task, waitMs, sentAt).catch(() => task);
      }
      if (claim) await this.#release(claim);
      throw queued.reason;
    }
    if (recorded.status === 'rejected') {
      if (claim) await this.#release(claim);
      throw recorded.reason;
    }
    try {
      return await this.#waitForEnd(task.owner, task, waitMs, sentAt);
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

  /**
   * The task a claim stands for, waited for up to `waitMs` like a fresh submission. `undefined` when
   * it still does not exist (its request is between its two writes, or died there).
   */
  async #replay(owner: string, claim: IdempotencyClaim, waitMs: number): Promise<Task | undefined> {
    let seen: Task | undefined;
    const read = async () => {
      const task = await this.#store.get(claim.taskId);
      const current = task && task.owner === owner && !isExpired(task, this.#clock.now()) ? task : undefined;
      seen = current ?? seen;
      return current;
    };
    const first = await read();
    if (first && (isTerminal(first.state) || waitMs <= 0)) return first;
    // No task behind an old claim: nobody is coming to write it; do not wait for it.
    if (!first && (waitMs <= 0 || isClaimAbandoned(claim, this.#clock.now()))) return undefined;
    try {
      await pollUntil(read, (task) => task !== undefined && isTerminal(task.state), {
        budgetMs: waitMs,
        schedule: this.#schedule,
        clock: this.#clock,
        sleep: this.#sleep,
      });
    } catch (error) {
      // As in `submit`: once the task is known to exist, a store hiccup defers rather than fails.
      if (!(seen && error instanceof UnavailableError)) throw error;
      this.#logger.warn('store unavailable while waiting for a replayed task; deferring', { taskId: seen.id, error });
    }
    return seen;
  }

  /** Gives a claim back, best effort: if this fails, a later request takes it over (see submitOnce). */
  async #release(claim: IdempotencyClaim): Promise<void> {
    try {
      await this.#idempotency?.release(claim.id, claim.taskId);
    } catch (error) {
      this.#logger.warn('could not release an idempotency key', { taskId: claim.taskId, error });
    }
  }

  /** The caller's task, waiting up to `waitMs` for it to end. Another user's task is "not found". */
  async get(owner: string, id: string, waitMs: number): Promise<Task> {
    const task = await this.#find(owner, id);
    return this.#waitForEnd(owner, task, waitMs);
  }

  async #waitForEnd(owner: string, task: Task, waitMs: number, startedAt?: number): Promise<Task> {
    if (isTerminal(task.state) || waitMs <= 0) return task;
    const last = await pollUntil(
      () => this.#find(owner, task.id),
      (current) => isTerminal(current.state),
      { budgetMs: waitMs, schedule: this.#schedule, clock: this.#clock, sleep: this.#sleep, startedAt },
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

  /**
   * Ends a task whose message could not be sent: FAILURE `enqueue_failed`, unless a worker has
   * started it. True when the task is (now) FAILURE or has no record; false when a worker has it.
   */
  async #failUnqueued(task: Task): Promise<boolean> {
    try {
      const failed = await this.#store.transition(task.id, {
        from: ['PENDING'],
        to: 'FAILURE',
        at: new Date(this.#clock.now()).toISOString(),
        error: { code: 'enqueue_failed', message: 'the task could not be queued; submit it again' },
        unlessStarted: true,
      });
      if (failed) return true;
      const current = await this.#store.get(task.id);
      return current === undefined || current.error?.code === 'enqueue_failed';
    } catch (error) {
      this.#logger.error('could not mark an unqueued task as failed', { taskId: task.id, error });
      return true;
    }
  }
}
