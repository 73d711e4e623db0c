import { randomUUID } from 'node:crypto';
import { type Clock, systemClock } from '../clock.ts';
import { IdempotencyKeyReusedError, RequestInProgressError, TaskEndedError } from '../errors.ts';
import { type Logger, silentLogger } from '../logger.ts';
import type { IdempotencyStore, OpenTaskSlots, TaskQueue, TaskStore } from '../ports.ts';
import { notifyAtAfterEnd } from '../webhooks/delivery-schedule.ts';
import { BatchSubmission } from './batch-submission.ts';
import { IDEMPOTENCY_WINDOW_SECONDS, type IdempotencyClaim, claimMatches, idempotencyClaimId, isClaimAbandoned, isClaimExpired, requestDigest } from './idempotency.ts';
import { ListCursors } from './list-cursor.ts';
import { DEFAULT_RUN_LATER_LIMITS, type RunLater, type RunLaterLimits } from './run-later.ts';
import { TaskEndings } from './task-endings.ts';
import { MAX_CLAIM_ATTEMPTS, type SubmissionContext, TaskSubmission } from './task-submission.ts';
import { CANCELLABLE_STATES, type Task, type TaskFailure, type TaskInput, type TaskState, isTerminal, newTaskId } from './task.ts';
import type { BackoffSchedule } from './wait-policy.ts';

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
  /** How far ahead tasks may be set to run, and from when they wait in the store (SCHEDULED). */
  readonly runLater?: RunLaterLimits;
  /** Signs `GET /tasks` cursors; the API passes one keyed by its JWT secret, so every instance agrees. */
  readonly cursors?: ListCursors;
  /** Where each owner's open tasks are counted; without it there is no limit. */
  readonly slots?: OpenTaskSlots;
  /** How many open tasks an owner may have at once (their own limit, or the default). */
  readonly openTaskLimit?: (owner: string) => number;
  /** What follows a cancel (the webhook, the slot) and an unqueued task's end (its slot). */
  readonly endings?: TaskEndings;
}

/** What `list` filters by, and the page it asks for. */
export interface TaskListRequest {
  readonly state?: TaskState;
  readonly name?: string;
  /** 1 to 100. */
  readonly limit: number;
  /** The `next` of the page before. */
  readonly cursor?: string;
}

export interface TaskList {
  readonly tasks: readonly Task[];
  /** Where the next page starts; absent on the last page. */
  readonly next?: string;
}

/** One item of a batch, as the HTTP edge checked it: a task to submit, or why the item is refused. */
export type BatchItem =
  | { readonly ok: true; readonly task: { readonly input: TaskInput; readonly runLater?: RunLater; readonly callbackUrl?: string } }
  | { readonly ok: false; readonly error: TaskFailure };

/** Each item's outcome, in the items' order: its task, or why it was not accepted. */
export type BatchResult = { readonly task: Task } | { readonly error: TaskFailure };

export interface BatchOutcome {
  readonly results: readonly BatchResult[];
  /** True when the Idempotency-Key had already been used for this batch: nothing was submitted this time. */
  readonly replayed: boolean;
}

/** How a task is submitted beside its input: when to run it, and where to POST its end. */
export interface SubmitOptions extends RunLater {
  /** Checked by the HTTP edge (the address policy, the owner's webhook secret). */
  readonly callbackUrl?: string;
  /**
   * The request's admission by the owner's request rate, still being decided: awaited beside the
   * open-task slots, before anything is written, so the two writes cost one write's time. Rejects
   * (a 429) when the rate refused the request.
   */
  readonly admission?: Promise<void>;
}

/** A task submitted with an idempotency key, and whether it came from an earlier request. */
export interface SubmitOnceResult {
  readonly task: Task;
  /** True when the key had already been used for this request: no task was created this time. */
  readonly replayed: boolean;
}

/**
 * Submits tasks, waits for their results and looks them up, on behalf of one user at a time. It
 * receives what the HTTP edge has validated (a task's canonical input from TaskCatalog, a task id,
 * an Idempotency-Key) and checks none of it again.
 */
export class TaskService {
  readonly #context: SubmissionContext;
  readonly #cursors: ListCursors;
  readonly #submission: TaskSubmission;
  readonly #batches: BatchSubmission;

  constructor(options: TaskServiceOptions) {
    const context: SubmissionContext = {
      store: options.store,
      queue: options.queue,
      idempotency: options.idempotency,
      ttlSeconds: options.taskTtlSeconds,
      schedule: options.schedule,
      clock: options.clock ?? systemClock,
      sleep: options.sleep,
      newId: options.newId ?? newTaskId,
      logger: options.logger ?? silentLogger,
      runLater: options.runLater ?? DEFAULT_RUN_LATER_LIMITS,
      slots: options.slots,
      openTaskLimit: options.openTaskLimit ?? (() => Number.POSITIVE_INFINITY),
      endings: options.endings ?? new TaskEndings({ slots: options.slots, logger: options.logger }),
    };
    this.#context = context;
    // A key of this process alone: cursors then hold only within it (tests); the API passes its own.
    this.#cursors = options.cursors ?? new ListCursors(randomUUID());
    this.#submission = new TaskSubmission(context);
    this.#batches = new BatchSubmission(context, this.#submission);
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
  async submit(owner: string, input: TaskInput, waitMs: number, options?: SubmitOptions): Promise<Task> {
    const task = this.#submission.newTask(owner, input, this.#submission.runAt(options), options?.callbackUrl);
    return this.#submission.start(task, waitMs, undefined, options?.admission);
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
  async submitOnce(owner: string, key: string, input: TaskInput, waitMs: number, runLater?: SubmitOptions): Promise<SubmitOnceResult> {
    const idempotency = this.#submission.idempotencyStore();
    const claimId = idempotencyClaimId(owner, key);
    const digest = requestDigest(input, runLater);
    let replacing: string | undefined;
    for (let attempt = 0; attempt < MAX_CLAIM_ATTEMPTS; attempt += 1) {
      let runAtMs: number | undefined;
      try {
        runAtMs = this.#submission.runAt(runLater);
      } catch (error) {
        // A retry after its time has passed is still the request that was accepted: answer it so.
        const earlier = await this.#earlierSubmission(owner, claimId, input, runLater, waitMs);
        if (earlier) return earlier;
        throw error;
      }
      const task = this.#submission.newTask(owner, input, runAtMs, runLater?.callbackUrl);
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
        return { task: await this.#submission.start(task, waitMs, claim, runLater?.admission), replayed: false };
      }
      const existing = await idempotency.get(claimId);
      // Released (its request failed) or expired since our write: claim it again.
      if (!existing || isClaimExpired(existing, this.#context.clock.now())) {
        replacing = undefined;
        continue;
      }
      if (existing.taskIds !== undefined || !claimMatches(existing, input, runLater)) {
        throw new IdempotencyKeyReusedError(
          'this Idempotency-Key was already used for a different request; use a new key for a new request',
        );
      }
      const replayed = await this.#submission.replay(owner, existing, waitMs);
      // A task that was never queued did no work: its key is free (its request failed to free it).
      const neverQueued = replayed?.error?.code === 'enqueue_failed';
      if (replayed && !neverQueued) return { task: replayed, replayed: true };
      if (!replayed && !isClaimAbandoned(existing, this.#context.clock.now())) break;
      replacing = existing.taskId;
    }
    throw new RequestInProgressError('a request with this Idempotency-Key is still being processed; retry shortly');
  }

  /** The task an earlier request with this key and body made, if one did (and it still stands). */
  async #earlierSubmission(
    owner: string,
    claimId: string,
    input: TaskInput,
    runLater: SubmitOptions | undefined,
    waitMs: number,
  ): Promise<SubmitOnceResult | undefined> {
    const existing = await this.#submission.idempotencyStore().get(claimId);
    if (!existing || isClaimExpired(existing, this.#context.clock.now()) || existing.taskIds !== undefined) return undefined;
    if (!claimMatches(existing, input, runLater)) return undefined;
    const task = await this.#submission.replay(owner, existing, waitMs);
    return task && task.error?.code !== 'enqueue_failed' ? { task, replayed: true } : undefined;
  }

  /** The caller's task, waiting up to `waitMs` for it to end. Another user's task is "not found". */
  async get(owner: string, id: string, waitMs: number): Promise<Task> {
    const task = await this.#submission.find(owner, id);
    return this.#submission.waitForEnd(owner, task, waitMs);
  }

  /**
   * One page of the caller's tasks, newest first. A cursor from another user, for other filters, or
   * altered, is a 400 (ListCursors); the store is asked only for the caller's own tasks.
   */
  async list(owner: string, request: TaskListRequest): Promise<TaskList> {
    const scope = { owner, state: request.state, name: request.name };
    const after = request.cursor === undefined ? undefined : this.#cursors.decode(scope, request.cursor);
    const page = await this.#context.store.listByOwner({
      owner,
      state: request.state,
      name: request.name,
      limit: request.limit,
      after,
      nowMs: this.#context.clock.now(),
    });
    return { tasks: page.tasks, ...(page.next && { next: this.#cursors.encode(scope, page.next) }) };
  }

  /**
   * Cancels the caller's task: CANCELLED, from any open state, in one conditional write. A task that
   * is not pure then never starts (the worker's write that marks it started is refused); a running
   * one, or a pure one that started without that write, is stopped through its signal once the
   * worker reads its record, and its result is not written (every worker write is conditioned on an
   * open state).
   * Cancelling a cancelled task answers the same; an ended one is a 409 (TaskEndedError).
   */
  async cancel(owner: string, id: string): Promise<Task> {
    // A refused write means the state moved under us (ended, or queued by the scheduler): look again.
    for (let attempt = 0; attempt < MAX_CLAIM_ATTEMPTS; attempt += 1) {
      const task = await this.#submission.find(owner, id);
      if (task.state === 'CANCELLED') return task;
      if (isTerminal(task.state)) throw new TaskEndedError(id, task.state);
      const atMs = this.#context.clock.now();
      const cancelled = await this.#context.store.transition(id, {
        from: CANCELLABLE_STATES,
        to: 'CANCELLED',
        at: new Date(atMs).toISOString(),
        notifyAt: notifyAtAfterEnd(atMs),
      });
      if (cancelled) {
        this.#context.logger.info('task cancelled', { taskId: id, from: task.state });
        await this.#context.endings.ended(cancelled, { notify: true });
        return cancelled;
      }
    }
    throw new RequestInProgressError('the task changed state while it was being cancelled; try again');
  }

  /**
   * Submits up to 100 tasks in one request, each accepted whole or not at all; with an
   * Idempotency-Key the same key and body stand for one batch (BatchSubmission.submit).
   */
  submitBatch(
    owner: string,
    items: readonly BatchItem[],
    idempotency?: { key: string; requestDigest: string },
    admission?: Promise<void>,
  ): Promise<BatchOutcome> {
    return this.#batches.submit(owner, items, idempotency, admission);
  }
}
