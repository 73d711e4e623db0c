import { randomUUID } from 'node:crypto';
import { eachConcurrently } from '../concurrency.ts';
import {
  IdempotencyKeyReusedError,
  InvalidRequestError,
  RequestInProgressError,
  TaskEndedError,
  TaskNotFoundError,
  OpenTaskLimitError,
  UnavailableError,
} from '../errors.ts';
import type { OpenTaskSlots } from '../limits/ports.ts';
import { notifyAtAfterEnd } from '../webhooks/delivery-schedule.ts';
import { TaskEndings } from './task-endings.ts';
import { type Logger, silentLogger } from '../logger.ts';
import {
  IDEMPOTENCY_WINDOW_SECONDS,
  type IdempotencyClaim,
  idempotencyClaimId,
  isClaimAbandoned,
  claimMatches,
  isClaimExpired,
  requestDigest,
} from './idempotency.ts';
import { ListCursors } from './list-cursor.ts';
import type { IdempotencyStore, TaskQueue, TaskStore } from './ports.ts';
import { DEFAULT_RUN_LATER_LIMITS, type RunLater, type RunLaterLimits, delayUntil, resolveRunAt } from './run-later.ts';
import {
  CANCELLABLE_STATES,
  type Task,
  type TaskFailure,
  type TaskInput,
  type TaskState,
  isExpired,
  isTerminal,
  newTaskId,
} from './task.ts';
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

/** Seconds a submission refused for too many open tasks is told to wait: tasks end in seconds. */
const OPEN_TASKS_RETRY_AFTER_SECONDS = 1;

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

/** An item that was checked but could not be recorded or queued: the caller may submit it again. */
const NOT_ACCEPTED: TaskFailure = { code: 'unavailable', message: 'the task could not be recorded or queued; submit it again' };
/** An item whose record failed in a way that may have written it, and that could not be marked failed. */
const MAYBE_RECORDED: TaskFailure = {
  code: 'unavailable',
  message: 'the task could not be confirmed recorded, and may still run; list your tasks before submitting it again',
};

/** No task of a batch was accepted (a 503); `maybeRecorded` when some may have been written all the same. */
class BatchNotAcceptedError extends UnavailableError {
  constructor(
    readonly maybeRecorded: boolean,
    cause: unknown,
  ) {
    super('no task of the batch could be recorded or queued', { cause });
  }
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

function messageOf(task: Task) {
  return { taskId: task.id, name: task.name, args: task.args };
}

/** The queue's delay for a task to run later (it is within the queue's reach: not SCHEDULED). */
function delayOf(task: Task, nowMs: number): { delaySeconds?: number } {
  const delaySeconds = task.runAt === undefined ? 0 : delayUntil(Date.parse(task.runAt), nowMs);
  return delaySeconds > 0 ? { delaySeconds } : {};
}

/** Store calls in flight at once when a batch's doubtful items are checked. */
const FAN_OUT = 16;

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
  readonly #runLater: RunLaterLimits;
  readonly #cursors: ListCursors;
  readonly #slots: OpenTaskSlots | undefined;
  readonly #openTaskLimit: (owner: string) => number;
  readonly #endings: TaskEndings;

  constructor(options: TaskServiceOptions) {
    this.#slots = options.slots;
    this.#openTaskLimit = options.openTaskLimit ?? (() => Number.POSITIVE_INFINITY);
    this.#endings = options.endings ?? new TaskEndings({ slots: options.slots, logger: options.logger });
    this.#store = options.store;
    this.#queue = options.queue;
    this.#idempotency = options.idempotency;
    this.#ttlSeconds = options.taskTtlSeconds;
    this.#schedule = options.schedule;
    this.#clock = options.clock ?? systemClock;
    this.#sleep = options.sleep;
    this.#newId = options.newId ?? newTaskId;
    this.#logger = options.logger ?? silentLogger;
    this.#runLater = options.runLater ?? DEFAULT_RUN_LATER_LIMITS;
    // A key of this process alone: cursors then hold only within it (tests); the API passes its own.
    this.#cursors = options.cursors ?? new ListCursors(randomUUID());
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
    return this.#start(this.#newTask(owner, input, this.#runAt(options), options?.callbackUrl), waitMs, undefined, options?.admission);
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
    const idempotency = this.#idempotencyStore();
    const claimId = idempotencyClaimId(owner, key);
    const digest = requestDigest(input, runLater);
    let replacing: string | undefined;
    for (let attempt = 0; attempt < MAX_CLAIM_ATTEMPTS; attempt += 1) {
      let runAtMs: number | undefined;
      try {
        runAtMs = this.#runAt(runLater);
      } catch (error) {
        // A retry after its time has passed is still the request that was accepted: answer it so.
        const earlier = await this.#earlierSubmission(owner, claimId, input, runLater, waitMs);
        if (earlier) return earlier;
        throw error;
      }
      const task = this.#newTask(owner, input, runAtMs, runLater?.callbackUrl);
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
        return { task: await this.#start(task, waitMs, claim, runLater?.admission), replayed: false };
      }
      const existing = await idempotency.get(claimId);
      // Released (its request failed) or expired since our write: claim it again.
      if (!existing || isClaimExpired(existing, this.#clock.now())) {
        replacing = undefined;
        continue;
      }
      if (existing.taskIds !== undefined || !claimMatches(existing, input, runLater)) {
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

  /** The task an earlier request with this key and body made, if one did (and it still stands). */
  async #earlierSubmission(
    owner: string,
    claimId: string,
    input: TaskInput,
    runLater: SubmitOptions | undefined,
    waitMs: number,
  ): Promise<SubmitOnceResult | undefined> {
    const existing = await this.#idempotencyStore().get(claimId);
    if (!existing || isClaimExpired(existing, this.#clock.now()) || existing.taskIds !== undefined) return undefined;
    if (!claimMatches(existing, input, runLater)) return undefined;
    const task = await this.#replay(owner, existing, waitMs);
    return task && task.error?.code !== 'enqueue_failed' ? { task, replayed: true } : undefined;
  }

  #idempotencyStore(): IdempotencyStore {
    if (!this.#idempotency) throw new Error('this TaskService has no idempotency store; pass `idempotency` to its constructor');
    return this.#idempotency;
  }

  /** When a task asked to run later is to run (epoch ms); a 400 for a time the limits refuse. */
  #runAt(runLater: RunLater | undefined, nowMs = this.#clock.now()): number | undefined {
    return resolveRunAt(runLater, nowMs, this.#runLater);
  }

  /**
   * A new task: PENDING, or, to run further ahead than the queue can delay a message, SCHEDULED. A
   * task to run later lives its whole life from when it runs, not from when it was submitted.
   */
  #newTask(owner: string, input: TaskInput, runAtMs?: number, callbackUrl?: string, id = this.#newId()): Task {
    const nowMs = this.#clock.now();
    const now = new Date(nowMs).toISOString();
    const scheduled = runAtMs !== undefined && runAtMs - nowMs > this.#runLater.maxQueueDelaySeconds * 1000;
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
      expiresAt: Math.floor(Math.max(nowMs, runAtMs ?? 0) / 1000) + this.#ttlSeconds,
    };
  }

  /**
   * Records the task, queues it and waits for it. With a `claim`, a task that could not be recorded
   * or queued gives its key back, so a retry with the same key is not stuck on a task that never ran.
   */
  async #start(task: Task, waitMs: number, claim?: IdempotencyClaim, admission?: Promise<void>): Promise<Task> {
    try {
      await this.#reserve(task.owner, [task], admission);
    } catch (error) {
      // Refused before anything was written: the key is free for a retry.
      if (claim) await this.#release(claim);
      throw error;
    }
    // The wait counts from here: the worker may start as soon as the message is out.
    const sentAt = this.#clock.now();
    // A SCHEDULED task has no message yet: the sweeper sends it when it is nearly due.
    const [recorded, queued] = await Promise.allSettled([
      this.#store.create(task),
      task.state === 'SCHEDULED' ? Promise.resolve() : this.#queue.send(messageOf(task), delayOf(task, sentAt)),
    ]);
    if (queued.status === 'rejected') {
      // Whatever the record did (a write that failed may have been applied): nothing is left PENDING
      // that no worker will see. Unless a worker has started it already (a send that failed may have
      // been delivered), or it could not be marked (its record is then open without a message, which
      // the sweeper queues): then the task is accepted after all, and answered as such.
      const fate = await this.#failUnqueued(task);
      if (recorded.status === 'fulfilled' && fate !== 'ended') {
        this.#logger.warn('a send failed, but the task is accepted', { taskId: task.id, fate, error: queued.reason });
        return this.#waitForEnd(task.owner, task, waitMs, sentAt).catch(() => task);
      }
      // The key is freed only when the task surely never runs; otherwise a retry with it answers
      // with the task, should its record turn out written (or, after a minute, takes the key over).
      if (fate === 'ended') await this.#endings.ended(task, { notify: false });
      if (claim && fate === 'ended') await this.#release(claim);
      throw queued.reason;
    }
    if (recorded.status === 'rejected') {
      // A write reported failed may have been applied after all, its message already sent (or, for a
      // SCHEDULED task, the sweeper would send it): unless a worker has it, make sure it never runs.
      const fate = await this.#failUnqueued(task);
      if (fate === 'running') {
        this.#logger.warn('a record reported failed was written, and its task is running', { taskId: task.id, error: recorded.reason });
        return this.#waitForEnd(task.owner, task, waitMs, sentAt).catch(() => task);
      }
      if (fate === 'ended') await this.#endings.ended(task, { notify: false });
      if (claim && fate === 'ended') await this.#release(claim);
      throw recorded.reason;
    }
    // It runs later: there is nothing to wait for now.
    if (task.runAt !== undefined) return task;
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
    // A task to run later is not waited for, in a replay as in its first request.
    if (first && (isTerminal(first.state) || waitMs <= 0 || first.runAt !== undefined)) return first;
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

  /**
   * One page of the caller's tasks, newest first. A cursor from another user, for other filters, or
   * altered, is a 400 (ListCursors); the store is asked only for the caller's own tasks.
   */
  async list(owner: string, request: TaskListRequest): Promise<TaskList> {
    const scope = { owner, state: request.state, name: request.name };
    const after = request.cursor === undefined ? undefined : this.#cursors.decode(scope, request.cursor);
    const page = await this.#store.listByOwner({
      owner,
      state: request.state,
      name: request.name,
      limit: request.limit,
      after,
      nowMs: this.#clock.now(),
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
      const task = await this.#find(owner, id);
      if (task.state === 'CANCELLED') return task;
      if (isTerminal(task.state)) throw new TaskEndedError(id, task.state);
      const atMs = this.#clock.now();
      const cancelled = await this.#store.transition(id, {
        from: CANCELLABLE_STATES,
        to: 'CANCELLED',
        at: new Date(atMs).toISOString(),
        notifyAt: notifyAtAfterEnd(atMs),
      });
      if (cancelled) {
        this.#logger.info('task cancelled', { taskId: id, from: task.state });
        await this.#endings.ended(cancelled, { notify: true });
        return cancelled;
      }
    }
    throw new RequestInProgressError('the task changed state while it was being cancelled; try again');
  }

  /**
   * Submits up to 100 tasks in one request: the records in bulk (TaskStore.createMany), then the
   * messages (TaskQueue.sendMany). Each item is accepted whole or not at all: one that could not be
   * recorded or queued is made sure never to run (FAILURE `enqueue_failed`, as `submit` does) and
   * answered `unavailable`. Nothing waits for results. When no item could be accepted for an
   * outage, the whole request fails (503) and frees its Idempotency-Key.
   *
   * With an Idempotency-Key the same key and body stand for one batch: a repeat answers with the
   * same tasks (`replayed`) while the first request's tasks exist; another body is a 422.
   */
  async submitBatch(
    owner: string,
    items: readonly BatchItem[],
    idempotency?: { key: string; requestDigest: string },
    admission?: Promise<void>,
  ): Promise<BatchOutcome> {
    if (!idempotency) return { results: await this.#startBatch(this.#prepareBatch(owner, items, this.#clock.now()), admission), replayed: false };
    const store = this.#idempotencyStore();
    const claimId = idempotencyClaimId(owner, idempotency.key);
    let replacing: string | undefined;
    for (let attempt = 0; attempt < MAX_CLAIM_ATTEMPTS; attempt += 1) {
      // One clock reading for the items' times and the claim: a replay judges them as of the claim.
      const nowMs = this.#clock.now();
      const prepared = this.#prepareBatch(owner, items, nowMs);
      const claim: IdempotencyClaim = {
        id: claimId,
        owner,
        taskId: `batch_${randomUUID()}`,
        taskIds: prepared.map((entry) => ('task' in entry ? entry.task.id : '')),
        requestDigest: idempotency.requestDigest,
        createdAt: new Date(nowMs).toISOString(),
        expiresAt: Math.floor(nowMs / 1000) + Math.min(this.#ttlSeconds, IDEMPOTENCY_WINDOW_SECONDS),
      };
      if ((await store.claim(claim, { nowMs, replacing })) === 'claimed') {
        try {
          const results = await this.#startBatch(prepared, admission);
          await this.#settle(claim, results);
          return { results, replayed: false };
        } catch (error) {
          // Freed unless some task of it may have been recorded: then a retry with the key replays.
          if (!(error instanceof BatchNotAcceptedError && error.maybeRecorded)) await this.#release(claim);
          throw error;
        }
      }
      replacing = undefined;
      const existing = await store.get(claimId);
      if (!existing || isClaimExpired(existing, this.#clock.now())) continue;
      if (existing.requestDigest !== idempotency.requestDigest || existing.taskIds?.length !== items.length) {
        throw new IdempotencyKeyReusedError(
          'this Idempotency-Key was already used for a different request; use a new key for a new request',
        );
      }
      const replayed = await this.#replayBatch(owner, items, existing);
      if (replayed !== 'abandoned') return { results: replayed, replayed: true };
      // Its request died before it wrote any task: nothing was accepted, so the key is free again.
      replacing = existing.taskId;
    }
    throw new RequestInProgressError('a request with this Idempotency-Key is still being processed; retry shortly');
  }

  /** Records which items of a batch were not accepted, best effort: without it a replay waits a minute. */
  async #settle(claim: IdempotencyClaim, results: readonly BatchResult[]): Promise<void> {
    const notAccepted = results.flatMap((result, index) => ('error' in result && claim.taskIds?.[index] ? [index] : []));
    try {
      await this.#idempotencyStore().settle(claim.id, claim.taskId, notAccepted);
    } catch (error) {
      this.#logger.warn('could not settle a batch idempotency key', { error });
    }
  }

  /** Each item's task, or why it is refused as of `nowMs` (a time to run that the limits refuse, say). */
  #prepareBatch(owner: string, items: readonly BatchItem[], nowMs: number): ({ task: Task } | { error: TaskFailure })[] {
    return items.map((item) => {
      if (!item.ok) return { error: item.error };
      const refused = this.#refusalOf(item, nowMs);
      if (refused) return refused;
      return { task: this.#newTask(owner, item.task.input, this.#runAt(item.task.runLater, nowMs), item.task.callbackUrl) };
    });
  }

  /** Why a batch item is refused as of `nowMs`, or undefined when it is accepted. */
  #refusalOf(item: BatchItem, nowMs: number): { error: TaskFailure } | undefined {
    if (!item.ok) return { error: item.error };
    try {
      this.#runAt(item.task.runLater, nowMs);
      return undefined;
    } catch (error) {
      if (error instanceof InvalidRequestError) return { error: { code: error.code, message: error.message } };
      throw error;
    }
  }

  async #startBatch(prepared: readonly ({ task: Task } | { error: TaskFailure })[], admission?: Promise<void>): Promise<BatchResult[]> {
    const tasks = prepared.flatMap((entry) => ('task' in entry ? [entry.task] : []));
    if (tasks.length === 0) {
      await admission;
      return [...prepared];
    }
    // All of the batch's slots or none: a batch is refused whole (429) rather than cut at the limit.
    await this.#reserve(tasks[0]!.owner, tasks, admission);
    const unrecorded = await this.#store.createMany(tasks);
    const sentAt = this.#clock.now();
    const toSend = tasks.filter((task) => !unrecorded.has(task.id) && task.state !== 'SCHEDULED');
    const unsent = await this.#queue.sendMany(toSend.map((task) => ({ message: messageOf(task), ...delayOf(task, sentAt) })));
    // Not known to be recorded, or not queued: make sure none is left open that no worker will see.
    // One whose record was written but that could not be marked stays accepted: the sweeper queues it.
    const notAccepted = new Map<string, unknown>();
    // Not known to be recorded, and the mark that would keep it from running failed too: it may run.
    const maybeRecorded = new Set<string>();
    const doubtful = tasks.filter((task) => unrecorded.has(task.id) || unsent.has(task.id));
    await eachConcurrently(doubtful, FAN_OUT, async (task) => {
      const fate = await this.#failUnqueued(task);
      if (fate === 'ended' || (fate === 'unknown' && unrecorded.has(task.id))) {
        notAccepted.set(task.id, unrecorded.get(task.id) ?? unsent.get(task.id));
      }
      if (fate === 'unknown' && unrecorded.has(task.id)) maybeRecorded.add(task.id);
    });
    // Not accepted and surely never to run: its slot is free again.
    const ended = tasks.filter((task) => notAccepted.has(task.id) && !maybeRecorded.has(task.id));
    if (ended.length > 0) await this.#slots?.release(tasks[0]!.owner, ended.map((task) => task.id)).catch(() => {});
    if (notAccepted.size > 0) {
      const [cause] = notAccepted.values();
      this.#logger.warn('batch items not accepted', { notAccepted: notAccepted.size, maybeRecorded: maybeRecorded.size, of: tasks.length, error: cause });
      if (notAccepted.size === tasks.length) throw new BatchNotAcceptedError(maybeRecorded.size > 0, cause);
    }
    return prepared.map((entry) => {
      if (!('task' in entry) || !notAccepted.has(entry.task.id)) return entry;
      return { error: maybeRecorded.has(entry.task.id) ? MAYBE_RECORDED : NOT_ACCEPTED };
    });
  }

  /**
   * The answer to a batch whose key was claimed before: each item's task as it is now. Items are
   * refused as they were the first time (the body is the same, and a time to run is judged as of
   * the claim, as it was then). A task that is not there yet while the first request may still be
   * writing it is a 409; one that never came is `unavailable`, as the first answer said; and when
   * none came and the first request is long gone (it died before writing any), `abandoned`.
   */
  async #replayBatch(owner: string, items: readonly BatchItem[], claim: IdempotencyClaim): Promise<BatchResult[] | 'abandoned'> {
    const firstMs = Date.parse(claim.createdAt);
    const abandoned = isClaimAbandoned(claim, this.#clock.now());
    let missing = 0;
    let made = 0;
    const results = await Promise.all(
      items.map(async (item, index): Promise<BatchResult> => {
        const id = claim.taskIds?.[index];
        if (!id) return this.#refusalOf(item, firstMs) ?? { error: NOT_ACCEPTED };
        made += 1;
        const task = await this.#store.get(id);
        if (task && task.owner === owner && !isExpired(task, this.#clock.now())) {
          return task.error?.code === 'enqueue_failed' ? { error: NOT_ACCEPTED } : { task };
        }
        // Answered not accepted the first time (settled), or its request may still be writing it.
        if (!claim.settled) missing += 1;
        return { error: NOT_ACCEPTED };
      }),
    );
    if (missing > 0 && !abandoned) throw new RequestInProgressError('a request with this Idempotency-Key is still being processed; retry shortly');
    if (made > 0 && missing === made) return 'abandoned';
    return results;
  }

  /**
   * Takes an open-task slot for each of the owner's new tasks, all or none, while the request's
   * `admission` by its rate is decided: a 429 when either refuses. Slots taken for a request the
   * rate refused are given back.
   */
  async #reserve(owner: string, tasks: readonly Task[], admission: Promise<void> = Promise.resolve()): Promise<void> {
    if (!this.#slots) return admission;
    const limit = this.#openTaskLimit(owner);
    // Never to fit, however many tasks end: not a 429 to retry, but a batch to split.
    if (tasks.length > limit) {
      await admission;
      throw new InvalidRequestError(`this batch holds ${tasks.length} tasks, more than the ${limit} open tasks you may have at once; split it`);
    }
    const slots = tasks.map((task) => ({ id: task.id, expiresAt: task.expiresAt }));
    const [admitted, reserved] = await Promise.allSettled([admission, this.#slots.reserve(owner, slots, limit, this.#clock.now())]);
    if (admitted.status === 'rejected') {
      if (reserved.status === 'fulfilled' && reserved.value.admitted) {
        await this.#slots.release(owner, slots.map((slot) => slot.id)).catch(() => {});
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
   * Ends a task whose record or message failed: FAILURE `enqueue_failed`, unless a worker has
   * started it. `ended` when the task is (now) FAILURE or has no record; `running` when a worker has
   * it (or it moved on otherwise); `unknown` when the store could not say.
   */
  async #failUnqueued(task: Task): Promise<'ended' | 'running' | 'unknown'> {
    try {
      const failed = await this.#store.transition(task.id, {
        from: ['SCHEDULED', 'PENDING'],
        to: 'FAILURE',
        at: new Date(this.#clock.now()).toISOString(),
        error: { code: 'enqueue_failed', message: 'the task could not be queued; submit it again' },
        unlessStarted: true,
      });
      if (failed) return 'ended';
      const current = await this.#store.get(task.id);
      return current === undefined || current.error?.code === 'enqueue_failed' ? 'ended' : 'running';
    } catch (error) {
      this.#logger.error('could not mark an unqueued task as failed', { taskId: task.id, error });
      return 'unknown';
    }
  }
}
