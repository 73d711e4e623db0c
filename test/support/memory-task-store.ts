import { UnavailableError } from '../../lib/errors.ts';
import type {
  AttemptClaim,
  AttemptRecord,
  DueDelivery,
  NotifierQueue,
  OwnerTaskQuery,
  QueuedMessage,
  StateChange,
  TaskPage,
  TaskQueue,
  TaskStore,
  WebhookDeliveryStore,
} from '../../lib/ports.ts';
import { RUNNABLE_STATES, type Task, type TaskInput, type TaskProgress, isExpired, isSameInput, isTerminal } from '../../lib/tasks/task.ts';
import type { TaskMessage } from '../../lib/tasks/task-message.ts';

/**
 * An in-memory TaskStore with the same conditional semantics as the DynamoDB one, for unit tests of
 * the code that calls it. `failNext` makes the next calls of a method fail as an outage would.
 */
export class MemoryTaskStore implements TaskStore, WebhookDeliveryStore {
  readonly tasks = new Map<string, Task>();
  /**
   * The webhook index as DynamoDbTaskStore keeps it: a task with a callbackUrl is in it from its
   * creation (its notifyShard) and listed once its end sets `notifyAt`, until its delivery is done.
   */
  readonly deliveries = new Map<string, { notifyAt?: string }>();
  readonly #failures = new Map<keyof TaskStore, number>();

  failNext(method: keyof TaskStore, times = 1): void {
    this.#failures.set(method, times);
  }

  async create(task: Task): Promise<void> {
    this.#maybeFail('create');
    if (this.tasks.has(task.id)) throw new UnavailableError('duplicate id');
    this.tasks.set(task.id, structuredClone(task));
    if (task.callbackUrl !== undefined) this.deliveries.set(task.id, {});
  }

  /** Ids `createMany` reports unrecorded without writing them (an outage of some items). */
  readonly refuseInBatch = new Set<string>();

  async createMany(tasks: readonly Task[]): Promise<ReadonlyMap<string, UnavailableError>> {
    const failed = new Map<string, UnavailableError>();
    try {
      this.#maybeFail('createMany');
    } catch (error) {
      for (const task of tasks) failed.set(task.id, error as UnavailableError);
      return failed;
    }
    for (const task of tasks) {
      if (this.refuseInBatch.has(task.id) || this.tasks.has(task.id)) failed.set(task.id, new UnavailableError('simulated unprocessed item'));
      else {
        this.tasks.set(task.id, structuredClone(task));
        if (task.callbackUrl !== undefined) this.deliveries.set(task.id, {});
      }
    }
    return failed;
  }

  async get(id: string): Promise<Task | undefined> {
    this.#maybeFail('get');
    const task = this.tasks.get(id);
    return task && structuredClone(task);
  }

  async transition(id: string, change: StateChange): Promise<Task | undefined> {
    this.#maybeFail('transition');
    const task = this.tasks.get(id);
    if (!task || !change.from.includes(task.state)) return undefined;
    if (change.input && (!isSameInput(task, change.input) || isExpired(task, Date.parse(change.at)))) return undefined;
    if (change.unlessStarted && (task.startedAt !== undefined || task.progress !== undefined)) return undefined;
    const updated: Task = {
      ...task,
      state: change.to,
      updatedAt: change.at,
      ...(change.result !== undefined && { result: change.result }),
      ...(change.error !== undefined && { error: change.error }),
      ...(change.progress !== undefined && { progress: change.progress }),
      ...(change.requeuedAt !== undefined && { requeuedAt: change.requeuedAt }),
    };
    this.tasks.set(id, updated);
    const delivery = this.deliveries.get(id);
    if (delivery && change.notifyAt !== undefined && isTerminal(change.to)) delivery.notifyAt = change.notifyAt;
    return structuredClone(updated);
  }

  async claimAttempt(id: string, claim: AttemptClaim): Promise<Task | undefined> {
    const task = this.tasks.get(id);
    const delivery = this.deliveries.get(id);
    if (!task || !delivery || !isTerminal(task.state)) return undefined;
    if (claim.previous === undefined ? task.webhook !== undefined : !this.#stillPending(task, claim)) return undefined;
    const updated = { ...task, webhook: structuredClone(claim.next), ...(claim.expiresAt !== undefined && { expiresAt: claim.expiresAt }) };
    this.tasks.set(id, updated);
    delivery.notifyAt = claim.notifyAt;
    return structuredClone(updated);
  }

  #stillPending(task: Task, claim: AttemptClaim): boolean {
    const current = task.webhook;
    return (
      current !== undefined &&
      current.attempts === claim.previous!.attempts &&
      current.state === 'pending' &&
      (current.leaseUntil === undefined || current.leaseUntil < claim.at)
    );
  }

  async recordAttempt(id: string, record: AttemptRecord): Promise<boolean> {
    const task = this.tasks.get(id);
    if (!task || task.webhook?.attempts !== record.delivery.attempts) return false;
    this.tasks.set(id, { ...task, webhook: structuredClone(record.delivery) });
    if (record.notifyAt === undefined) this.deliveries.delete(id);
    else this.deliveries.set(id, { notifyAt: record.notifyAt });
    return true;
  }

  async listDueDeliveries(dueBy: string, limit: number): Promise<DueDelivery[]> {
    return [...this.deliveries.entries()]
      .flatMap(([id, { notifyAt }]) => (notifyAt !== undefined && notifyAt <= dueBy ? [{ id, notifyAt }] : []))
      .sort((a, b) => a.notifyAt.localeCompare(b.notifyAt))
      .slice(0, limit);
  }

  async postponeDelivery(id: string, seenNotifyAt: string, notifyAt: string): Promise<boolean> {
    const delivery = this.deliveries.get(id);
    if (delivery?.notifyAt !== seenNotifyAt) return false;
    delivery.notifyAt = notifyAt;
    return true;
  }

  async markStarted(id: string, at: string, input: TaskInput): Promise<boolean> {
    this.#maybeFail('markStarted');
    const task = this.tasks.get(id);
    if (!task || !RUNNABLE_STATES.includes(task.state) || !isSameInput(task, input) || isExpired(task, Date.parse(at))) return false;
    this.tasks.set(id, { ...task, startedAt: at });
    return true;
  }

  async saveProgress(id: string, progress: TaskProgress, input: TaskInput): Promise<boolean> {
    this.#maybeFail('saveProgress');
    const task = this.tasks.get(id);
    if (!task || !RUNNABLE_STATES.includes(task.state) || !isSameInput(task, input) || isExpired(task, Date.parse(progress.at))) {
      return false;
    }
    this.tasks.set(id, { ...task, progress });
    return true;
  }

  async listOpen(createdBefore: string, limit: number): Promise<string[]> {
    this.#maybeFail('listOpen');
    return [...this.tasks.values()]
      .filter((task) => !isTerminal(task.state) && task.state !== 'SCHEDULED' && task.createdAt <= createdBefore)
      .slice(0, limit)
      .map((task) => task.id);
  }

  async listDue(dueBy: string, limit: number): Promise<string[]> {
    this.#maybeFail('listDue');
    return [...this.tasks.values()]
      .filter((task) => task.state === 'SCHEDULED' && task.runAt !== undefined && task.runAt <= dueBy)
      .sort((a, b) => a.runAt!.localeCompare(b.runAt!))
      .slice(0, limit)
      .map((task) => task.id);
  }

  async listByOwner(query: OwnerTaskQuery): Promise<TaskPage> {
    this.#maybeFail('listByOwner');
    const key = (task: { createdAt: string; id: string }) => `${task.createdAt}#${task.id}`;
    const matching = [...this.tasks.values()]
      .filter((task) => task.owner === query.owner && !isExpired(task, query.nowMs))
      .filter((task) => (query.state === undefined || task.state === query.state) && (query.name === undefined || task.name === query.name))
      .filter((task) => query.after === undefined || key(task) < key(query.after))
      .sort((a, b) => key(b).localeCompare(key(a)));
    const tasks = matching.slice(0, query.limit).map((task) => structuredClone(task));
    const last = tasks.at(-1);
    return { tasks, ...(matching.length > query.limit && last && { next: { createdAt: last.createdAt, id: last.id } }) };
  }

  async recordRequeue(id: string, previous: number, at: string): Promise<boolean> {
    this.#maybeFail('recordRequeue');
    const task = this.tasks.get(id);
    if (!task || isTerminal(task.state) || task.state === 'SCHEDULED' || (task.requeues ?? 0) !== previous) return false;
    this.tasks.set(id, { ...task, requeues: previous + 1, requeuedAt: at });
    return true;
  }

  #maybeFail(method: keyof TaskStore): void {
    const left = this.#failures.get(method) ?? 0;
    if (left > 0) {
      this.#failures.set(method, left - 1);
      throw new UnavailableError(`simulated outage in ${method}`);
    }
  }
}

/** A queue that records what it was sent and can hand each message to a consumer at once. */
export class RecordingQueue implements TaskQueue {
  readonly sent: TaskMessage[] = [];
  /** The delay each message was sent with, by task id (only those sent with one). */
  readonly delays = new Map<string, number>();
  /** Task ids `sendMany` reports unsent without sending them. */
  readonly refuseInBatch = new Set<string>();
  /** What the consumer threw, message by message. */
  readonly failures: unknown[] = [];
  failing = false;

  constructor(private readonly consumer?: (body: string) => Promise<unknown>) {}

  async sendMany(messages: readonly QueuedMessage[]): Promise<ReadonlyMap<string, UnavailableError>> {
    const failed = new Map<string, UnavailableError>();
    for (const { message, delaySeconds } of messages) {
      if (this.failing || this.refuseInBatch.has(message.taskId)) failed.set(message.taskId, new UnavailableError('simulated queue outage'));
      else await this.send(message, { delaySeconds });
    }
    return failed;
  }

  async send(message: TaskMessage, options: { readonly delaySeconds?: number } = {}): Promise<void> {
    if (this.failing) throw new UnavailableError('simulated queue outage');
    this.sent.push(message);
    if (options.delaySeconds) {
      // Kept from the consumer: a delayed message is not delivered by this queue (tests deliver it).
      this.delays.set(message.taskId, options.delaySeconds);
      return;
    }
    // A consumer that fails (a message whose record never came, an outage) is left alone, as SQS
    // would leave the message until its redelivery; the failure is kept for tests to look at.
    if (this.consumer) setImmediate(() => this.consumer!(JSON.stringify(message)).catch((error: unknown) => this.failures.push(error)));
  }
}


/** The notifier's queue (or its dead-letter queue) in memory: what was sent, with its delay. */
export class RecordingNotices implements NotifierQueue {
  readonly sent: { taskId: string; delaySeconds?: number }[] = [];
  readonly failedDeliveries: { taskId: string; why: string }[] = [];
  failing = false;

  async send(taskId: string, options: { readonly delaySeconds?: number } = {}): Promise<void> {
    if (this.failing) throw new UnavailableError('simulated queue outage');
    this.sent.push({ taskId, ...(options.delaySeconds !== undefined && { delaySeconds: options.delaySeconds }) });
  }

  async put(taskId: string, why: string): Promise<void> {
    this.failedDeliveries.push({ taskId, why });
  }
}
