import { randomUUID } from 'node:crypto';
import { eachConcurrently } from '../concurrency.ts';
import { IdempotencyKeyReusedError, InvalidRequestError, RequestInProgressError, UnavailableError } from '../errors.ts';
import { IDEMPOTENCY_WINDOW_SECONDS, type IdempotencyClaim, idempotencyClaimId, isClaimAbandoned, isClaimExpired } from './idempotency.ts';
import { MAX_CLAIM_ATTEMPTS, type SubmissionContext, type TaskSubmission, delayOf, messageOf } from './task-submission.ts';
import type { BatchItem, BatchOutcome, BatchResult } from './task-service.ts';
import { type Task, type TaskFailure, isExpired } from './task.ts';

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

/** Store calls in flight at once when a batch's doubtful items are checked. */
const FAN_OUT = 16;

/**
 * `POST /tasks/batch`: up to 100 tasks submitted in one request, with or without an Idempotency-Key
 * (TaskService.submitBatch).
 */
export class BatchSubmission {
  readonly #context: SubmissionContext;
  readonly #submission: TaskSubmission;

  constructor(context: SubmissionContext, submission: TaskSubmission) {
    this.#context = context;
    this.#submission = submission;
  }

  /**
   * Submits up to 100 tasks in one request: the records in bulk (TaskStore.createMany), then the
   * messages (TaskQueue.sendMany). Each item is accepted whole or not at all: one that could not be
   * recorded or queued is made sure never to run (FAILURE `enqueue_failed`, as TaskService.submit
   * does) and answered `unavailable`. Nothing waits for results. When no item could be accepted for
   * an outage, the whole request fails (503) and frees its Idempotency-Key.
   *
   * With an Idempotency-Key the same key and body stand for one batch: a repeat answers with the
   * same tasks (`replayed`) while the first request's tasks exist; another body is a 422.
   */
  async submit(
    owner: string,
    items: readonly BatchItem[],
    idempotency?: { key: string; requestDigest: string },
    admission?: Promise<void>,
  ): Promise<BatchOutcome> {
    if (!idempotency) return { results: await this.#startBatch(this.#prepareBatch(owner, items, this.#context.clock.now()), admission), replayed: false };
    const store = this.#submission.idempotencyStore();
    const claimId = idempotencyClaimId(owner, idempotency.key);
    let replacing: string | undefined;
    for (let attempt = 0; attempt < MAX_CLAIM_ATTEMPTS; attempt += 1) {
      // One clock reading for the items' times and the claim: a replay judges them as of the claim.
      const nowMs = this.#context.clock.now();
      const prepared = this.#prepareBatch(owner, items, nowMs);
      const claim: IdempotencyClaim = {
        id: claimId,
        owner,
        taskId: `batch_${randomUUID()}`,
        taskIds: prepared.map((entry) => ('task' in entry ? entry.task.id : '')),
        requestDigest: idempotency.requestDigest,
        createdAt: new Date(nowMs).toISOString(),
        expiresAt: Math.floor(nowMs / 1000) + Math.min(this.#context.ttlSeconds, IDEMPOTENCY_WINDOW_SECONDS),
      };
      if ((await store.claim(claim, { nowMs, replacing })) === 'claimed') {
        try {
          const results = await this.#startBatch(prepared, admission);
          await this.#settle(claim, results);
          return { results, replayed: false };
        } catch (error) {
          // Freed unless some task of it may have been recorded: then a retry with the key replays.
          if (!(error instanceof BatchNotAcceptedError && error.maybeRecorded)) await this.#submission.release(claim);
          throw error;
        }
      }
      replacing = undefined;
      const existing = await store.get(claimId);
      if (!existing || isClaimExpired(existing, this.#context.clock.now())) continue;
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
      await this.#submission.idempotencyStore().settle(claim.id, claim.taskId, notAccepted);
    } catch (error) {
      this.#context.logger.warn('could not settle a batch idempotency key', { error });
    }
  }

  /** Each item's task, or why it is refused as of `nowMs` (a time to run that the limits refuse, say). */
  #prepareBatch(owner: string, items: readonly BatchItem[], nowMs: number): ({ task: Task } | { error: TaskFailure })[] {
    return items.map((item) => {
      if (!item.ok) return { error: item.error };
      const refused = this.#refusalOf(item, nowMs);
      if (refused) return refused;
      return { task: this.#submission.newTask(owner, item.task.input, this.#submission.runAt(item.task.runLater, nowMs), item.task.callbackUrl) };
    });
  }

  /** Why a batch item is refused as of `nowMs`, or undefined when it is accepted. */
  #refusalOf(item: BatchItem, nowMs: number): { error: TaskFailure } | undefined {
    if (!item.ok) return { error: item.error };
    try {
      this.#submission.runAt(item.task.runLater, nowMs);
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
    await this.#submission.reserve(tasks[0]!.owner, tasks, admission);
    const unrecorded = await this.#context.store.createMany(tasks);
    const sentAt = this.#context.clock.now();
    const toSend = tasks.filter((task) => !unrecorded.has(task.id) && task.state !== 'SCHEDULED');
    const unsent = await this.#context.queue.sendMany(toSend.map((task) => ({ message: messageOf(task), ...delayOf(task, sentAt) })));
    // Not known to be recorded, or not queued: make sure none is left open that no worker will see.
    // One whose record was written but that could not be marked stays accepted: the sweeper queues it.
    const notAccepted = new Map<string, unknown>();
    // Not known to be recorded, and the mark that would keep it from running failed too: it may run.
    const maybeRecorded = new Set<string>();
    const doubtful = tasks.filter((task) => unrecorded.has(task.id) || unsent.has(task.id));
    await eachConcurrently(doubtful, FAN_OUT, async (task) => {
      const fate = await this.#submission.failUnqueued(task);
      if (fate === 'ended' || (fate === 'unknown' && unrecorded.has(task.id))) {
        notAccepted.set(task.id, unrecorded.get(task.id) ?? unsent.get(task.id));
      }
      if (fate === 'unknown' && unrecorded.has(task.id)) maybeRecorded.add(task.id);
    });
    // Not accepted and surely never to run: its slot is free again.
    const ended = tasks.filter((task) => notAccepted.has(task.id) && !maybeRecorded.has(task.id));
    if (ended.length > 0) await this.#context.slots?.release(tasks[0]!.owner, ended.map((task) => task.id)).catch(() => {});
    if (notAccepted.size > 0) {
      const [cause] = notAccepted.values();
      this.#context.logger.warn('batch items not accepted', { notAccepted: notAccepted.size, maybeRecorded: maybeRecorded.size, of: tasks.length, error: cause });
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
    const abandoned = isClaimAbandoned(claim, this.#context.clock.now());
    let missing = 0;
    let made = 0;
    const results = await Promise.all(
      items.map(async (item, index): Promise<BatchResult> => {
        const id = claim.taskIds?.[index];
        if (!id) return this.#refusalOf(item, firstMs) ?? { error: NOT_ACCEPTED };
        made += 1;
        const task = await this.#context.store.get(id);
        if (task && task.owner === owner && !isExpired(task, this.#context.clock.now())) {
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
}
