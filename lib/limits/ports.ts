import type { RateDecision, UserLimits } from './user-limits.ts';

/**
 * Each user's request rate (a GCRA bucket, see user-limits.ts). One implementation keeps the
 * buckets in DynamoDB (lib/aws/dynamodb-request-rates.ts), so every API instance sees the same one.
 */
export interface RequestRateStore {
  /**
   * Takes one token from `user`'s bucket at `nowMs`, or refuses with `retryAfterSeconds`. Atomic:
   * however many calls race, a bucket admits no more than the GCRA allows (200 simultaneous calls on
   * a full bucket of `burst: 20` admit exactly 20). Throws UnavailableError when the store cannot
   * answer.
   */
  take(user: string, nowMs: number, limits: UserLimits): Promise<RateDecision>;
}

/** A task that holds an open-task slot, and when it expires (epoch seconds, the task's `expiresAt`). */
export interface SlotTask {
  readonly id: string;
  readonly expiresAt: number;
}

export type SlotReservation = { readonly admitted: true } | { readonly admitted: false; readonly open: number };

/**
 * Each owner's open tasks, counted against a ceiling. One implementation keeps them in DynamoDB
 * (lib/aws/dynamodb-open-task-slots.ts).
 */
export interface OpenTaskSlots {
  /**
   * Takes a slot for every task of `tasks`, or none: a batch of 100 needs 100 free, with `limit`
   * slots in all. Atomic under concurrency. A refusal says how many slots are `open` (held) once
   * stale ones were cleared: those whose task has expired, ended, or (after a grace for a task still
   * being recorded) does not exist, which heals a release that was lost. At most 100 tasks a call.
   */
  reserve(owner: string, tasks: readonly SlotTask[], limit: number, nowMs: number): Promise<SlotReservation>;
  /** Gives the slots of `taskIds` back; an id holding no slot is ignored. */
  release(owner: string, taskIds: readonly string[]): Promise<void>;
}
