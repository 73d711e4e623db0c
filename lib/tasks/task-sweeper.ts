import { type Logger, silentLogger } from '../logger.ts';
import { MAX_QUEUE_DELAY_SECONDS, type NotifierQueue, type TaskQueue, type TaskStore, type WebhookDeliveryStore } from '../ports.ts';
import { delayUntil } from './run-later.ts';
import { type Task, isExpired, isTerminal } from './task.ts';
import { eachConcurrently } from '../concurrency.ts';
import { type Clock, systemClock } from '../clock.ts';
import { RESEND_AFTER_SECONDS } from '../webhooks/delivery-schedule.ts';

export interface TaskSweeperOptions {
  readonly store: TaskStore;
  readonly queue: TaskQueue;
  /** A task still open this long after it was queued is queued again. */
  readonly staleAfterSeconds: number;
  /** The longest gap between two requeues of one task. */
  readonly maxBackoffSeconds?: number;
  /** Tasks looked at per run; the next run (a minute later) takes the rest. */
  readonly maxPerRun?: number;
  /**
   * SCHEDULED tasks due within this many seconds are queued, each with the queue's delay up to its
   * time, so it runs on time although the sweeper runs only every minute. At most 900 (SQS).
   */
  readonly scheduleAheadSeconds?: number;
  /**
   * Completion webhooks: deliveries due within `scheduleAheadSeconds` whose message was lost, or
   * whose next attempt was further ahead than the queue can delay, are sent to the notifier.
   */
  readonly webhooks?: { readonly deliveries: WebhookDeliveryStore; readonly notices: NotifierQueue };
  readonly clock?: Clock;
  readonly logger?: Logger;
}

/** Tasks queued at once by `requeueNow` and the scheduler. */
const SENDS_AT_ONCE = 16;

export interface SweepReport {
  readonly candidates: number;
  readonly requeued: number;
  /** SCHEDULED tasks queued for their time this run. */
  readonly released: number;
  /** Webhook deliveries sent to the notifier this run. */
  readonly webhooks: number;
}

/** Two runs of the sweeper (every minute): a task is queued a whole run before it is due. */
const DEFAULT_SCHEDULE_AHEAD_SECONDS = 120;

/**
 * Finishes what a lost message would leave open forever. SQS does not lose messages, but a message
 * can still go missing for a task: a send that failed in an ambiguous way, a queue purged or
 * recreated, an emulator restarted. The sweeper (a scheduled Lambda, every minute) queues every task
 * that is still open `staleAfterSeconds` after it was last queued once more, backing off
 * exponentially per task. A copy of a message that still exists is harmless: the worker's
 * conditional writes skip a task that has ended. Tasks are never failed for waiting: with the
 * workers down they stay PENDING, as callers expect, and finish when the workers return.
 */
export class TaskSweeper {
  readonly #store: TaskStore;
  readonly #queue: TaskQueue;
  readonly #staleAfterMs: number;
  readonly #maxBackoffMs: number;
  readonly #maxPerRun: number;
  readonly #scheduleAheadMs: number;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #webhooks: TaskSweeperOptions['webhooks'];

  constructor(options: TaskSweeperOptions) {
    this.#webhooks = options.webhooks;
    this.#store = options.store;
    this.#queue = options.queue;
    this.#staleAfterMs = options.staleAfterSeconds * 1000;
    this.#maxBackoffMs = (options.maxBackoffSeconds ?? 6 * 3600) * 1000;
    this.#maxPerRun = options.maxPerRun ?? 1_000;
    this.#scheduleAheadMs = Math.min(options.scheduleAheadSeconds ?? DEFAULT_SCHEDULE_AHEAD_SECONDS, MAX_QUEUE_DELAY_SECONDS) * 1000;
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger ?? silentLogger;
  }

  /**
   * Sends the due webhook deliveries, queues the SCHEDULED tasks that are nearly due, then queues
   * again the open tasks left waiting too long. The three run apart: a failure of one (an index missing mid-upgrade, throttling) does
   * not stop the other; it is logged, and thrown once both have run, so the invocation fails.
   */
  async sweep(): Promise<SweepReport> {
    const failures: unknown[] = [];
    // First: a few index reads, where the stale sweep may read a thousand tasks one by one.
    const webhooks = await this.releaseDeliveries().catch((error: unknown) => {
      this.#logger.error('could not send the due webhook deliveries', { error });
      failures.push(error);
      return 0;
    });
    const released = await this.releaseDue().catch((error: unknown) => {
      this.#logger.error('could not queue the scheduled tasks', { error });
      failures.push(error);
      return 0;
    });
    const stale = await this.#requeueStale().catch((error: unknown) => {
      this.#logger.error('could not queue again the stale tasks', { error });
      failures.push(error);
      return { candidates: 0, requeued: 0 };
    });
    if (failures.length > 0) throw new AggregateError(failures, 'the sweep failed in part; see the log');
    return { ...stale, released, webhooks };
  }

  /**
   * Sends the notifier every webhook delivery due within `scheduleAheadSeconds`, delayed to its
   * time: first moving its `notifyAt` on by RESEND_AFTER_SECONDS (a conditional write from the time
   * seen, so of two overlapping runs only one sends, and a delivery that moved meanwhile is left to
   * whoever moved it). The notifier reads the record and makes an attempt only if one is due, so a
   * message that turns out not to be needed changes nothing.
   */
  async releaseDeliveries(): Promise<number> {
    if (!this.#webhooks) return 0;
    const { deliveries, notices } = this.#webhooks;
    const now = this.#clock.now();
    const due = await deliveries.listDueDeliveries(new Date(now + this.#scheduleAheadMs).toISOString(), this.#maxPerRun);
    let sent = 0;
    await eachConcurrently(due, SENDS_AT_ONCE, async ({ id, notifyAt }) => {
      try {
        const dueMs = Math.max(Date.parse(notifyAt), now);
        const moved = await deliveries.postponeDelivery(id, notifyAt, new Date(dueMs + RESEND_AFTER_SECONDS * 1000).toISOString());
        if (!moved) return;
        const delaySeconds = Math.min(delayUntil(dueMs, now), MAX_QUEUE_DELAY_SECONDS);
        await notices.send(id, delaySeconds > 0 ? { delaySeconds } : undefined);
        sent += 1;
      } catch (error) {
        this.#logger.error('could not send a webhook delivery to the notifier; a later run will', { taskId: id, error });
      }
    });
    if (sent > 0) this.#logger.info('sent webhook deliveries to the notifier', { sent });
    return sent;
  }

  async #requeueStale(): Promise<{ candidates: number; requeued: number }> {
    const now = this.#clock.now();
    const ids = await this.#store.listOpen(new Date(now - this.#staleAfterMs).toISOString(), this.#maxPerRun);
    let requeued = 0;
    for (const id of ids) {
      if (await this.#requeueIfDue(id, now)) requeued += 1;
    }
    if (requeued > 0) this.#logger.warn('requeued open tasks', { candidates: ids.length, requeued });
    return { candidates: ids.length, requeued };
  }

  /**
   * The scheduler: every SCHEDULED task due within `scheduleAheadSeconds` is moved to PENDING (a
   * conditional write: a task cancelled meanwhile stays CANCELLED, and of two overlapping runs only
   * one moves it), marked as queued now (the stale sweep counts from it), and then queued with the
   * queue's delay up to its time, a few at once. Should the send fail, the task is PENDING without a
   * message, which the stale sweep finds once it is overdue; a task that fails is logged and the
   * others go on.
   */
  async releaseDue(): Promise<number> {
    const now = this.#clock.now();
    const ids = await this.#store.listDue(new Date(now + this.#scheduleAheadMs).toISOString(), this.#maxPerRun);
    let released = 0;
    await eachConcurrently(ids, SENDS_AT_ONCE, async (id) => {
      try {
        const at = new Date(this.#clock.now()).toISOString();
        const task = await this.#store.transition(id, { from: ['SCHEDULED'], to: 'PENDING', at, requeuedAt: at });
        if (!task) return;
        await this.#send(task, this.#clock.now());
        released += 1;
      } catch (error) {
        this.#logger.error('could not queue a scheduled task; the sweep queues it once it is overdue', { taskId: id, error });
      }
    });
    if (released > 0) this.#logger.info('queued scheduled tasks', { released });
    return released;
  }

  /** Sends a task's message, delayed up to its `runAt` when it is to run later. */
  async #send(task: Task, now: number): Promise<void> {
    const delaySeconds = task.runAt === undefined ? 0 : Math.min(delayUntil(Date.parse(task.runAt), now), MAX_QUEUE_DELAY_SECONDS);
    await this.#queue.send({ taskId: task.id, name: task.name, args: task.args }, delaySeconds > 0 ? { delaySeconds } : undefined);
  }

  /**
   * Queues each of `ids` once more, now, whatever its backoff, if it is still open: for a queue known
   * to have lost its messages (the local stack's SQS emulator keeps none across a restart, so
   * `npm start` calls this with every open task before it says the stack is running). A task that
   * also still has a message is harmless: the worker's conditional writes give it one result.
   * Returns how many were queued.
   */
  async requeueNow(ids: readonly string[]): Promise<number> {
    const now = this.#clock.now();
    let requeued = 0;
    await eachConcurrently(ids, SENDS_AT_ONCE, async (id) => {
      const task = await this.#store.get(id);
      // SCHEDULED ones have no message to lose: the scheduler sends it.
      if (!task || isTerminal(task.state) || task.state === 'SCHEDULED' || isExpired(task, now)) return;
      await this.#send(task, now);
      requeued += 1;
    });
    return requeued;
  }

  async #requeueIfDue(id: string, now: number): Promise<boolean> {
    const task = await this.#store.get(id);
    if (!task || isTerminal(task.state) || task.state === 'SCHEDULED' || isExpired(task, now)) return false;
    const requeues = task.requeues ?? 0;
    // The last sign of it: queued, started by a worker, or reporting progress; or when it is to run,
    // for a task to run later. A task that started late (a backlog) and still runs, or whose
    // delayed message is still on its way, is not queued again beside it.
    const lastSeen = Math.max(
      Date.parse(task.requeuedAt ?? task.createdAt),
      Date.parse(task.startedAt ?? '') || 0,
      Date.parse(task.progress?.at ?? '') || 0,
      Date.parse(task.runAt ?? '') || 0,
    );
    const backoff = Math.min(this.#staleAfterMs * 2 ** requeues, this.#maxBackoffMs);
    if (now - lastSeen < backoff) return false;
    // Claim the requeue first, so two overlapping runs never both send.
    if (!(await this.#store.recordRequeue(id, requeues, new Date(now).toISOString()))) return false;
    await this.#send(task, now);
    return true;
  }
}
