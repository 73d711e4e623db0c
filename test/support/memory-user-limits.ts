import type { OpenTaskSlots, RequestRateStore, SlotReservation, SlotTask } from '../../lib/ports.ts';
import { type RateDecision, type UserLimits, takeToken } from '../../lib/limits/user-limits.ts';
import { MISSING_TASK_GRACE_MS } from '../../lib/aws/dynamodb-open-task-slots.ts';
import { type Task, isTerminal } from '../../lib/tasks/task.ts';

/** Request rates in memory, with the DynamoDB store's GCRA, for unit tests of the code that uses them. */
export class MemoryRequestRates implements RequestRateStore {
  /** user -> the bucket's `tat` (epoch ms). */
  readonly tats = new Map<string, number>();

  async take(user: string, nowMs: number, limits: UserLimits): Promise<RateDecision> {
    const { decision, tat } = takeToken(this.tats.get(user), nowMs, limits);
    if (tat !== undefined) this.tats.set(user, tat);
    return decision;
  }
}

export interface MemoryOpenTaskSlotsOptions {
  /** Where to look up the tasks of slots when refusing (a MemoryTaskStore); without it only expiry clears a slot. */
  readonly tasks?: { get(id: string): Promise<Task | undefined> };
}

/**
 * Open-task slots in memory, with the DynamoDB store's rules: all of a batch or none, and on a
 * refusal the stale slots cleared first (expired; ended; absent past the grace after the owner's
 * latest reservation).
 */
export class MemoryOpenTaskSlots implements OpenTaskSlots {
  /** owner -> task id -> the task's expiresAt (epoch seconds). */
  readonly slots = new Map<string, Map<string, number>>();
  readonly #lastReservedMs = new Map<string, number>();
  readonly #tasks: MemoryOpenTaskSlotsOptions['tasks'];

  constructor(options: MemoryOpenTaskSlotsOptions = {}) {
    this.#tasks = options.tasks;
  }

  async reserve(owner: string, tasks: readonly SlotTask[], limit: number, nowMs: number): Promise<SlotReservation> {
    const batch = new Map(tasks.map((task) => [task.id, task.expiresAt]));
    if (batch.size === 0) return { admitted: true };
    if (batch.size > 100) throw new RangeError(`at most 100 tasks can be reserved at once, not ${batch.size}`);
    const held = this.slots.get(owner) ?? new Map<string, number>();
    this.slots.set(owner, held);
    if (held.size + batch.size > limit) {
      const lastReservedMs = this.#lastReservedMs.get(owner);
      const pastGrace = lastReservedMs === undefined || nowMs - lastReservedMs >= MISSING_TASK_GRACE_MS;
      for (const [taskId, expiresAt] of [...held]) {
        const task = expiresAt * 1000 <= nowMs || this.#tasks === undefined ? undefined : await this.#tasks.get(taskId);
        const stale =
          expiresAt * 1000 <= nowMs || (this.#tasks !== undefined && (task === undefined ? pastGrace : isTerminal(task.state)));
        if (stale) held.delete(taskId);
      }
      if (held.size + batch.size > limit) return { admitted: false, open: held.size };
    }
    for (const [taskId, expiresAt] of batch) held.set(taskId, expiresAt);
    this.#lastReservedMs.set(owner, nowMs);
    return { admitted: true };
  }

  async release(owner: string, taskIds: readonly string[]): Promise<void> {
    const held = this.slots.get(owner);
    for (const taskId of taskIds) held?.delete(taskId);
  }
}
