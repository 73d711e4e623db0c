import { createHash } from 'node:crypto';
import type { RunLater } from './run-later.ts';
import { type TaskInput, taskInputDigest } from './task.ts';

/**
 * Idempotency keys on `POST /tasks`: the pure part (key rules, claim ids, request digests, expiry).
 * The one place that does I/O is the IdempotencyStore (lib/ports.ts).
 */

/** How long a key is remembered, in seconds: 24 h (never longer than the task it points to lives). */
export const IDEMPOTENCY_WINDOW_SECONDS = 24 * 60 * 60;

/**
 * How long a claim may point to a task that does not exist before another request may take it
 * over, in ms. The first request writes its task a few ms after its claim; only a request that died
 * in between (the API Lambda times out after 10 s) leaves a claim without a task, and without this
 * the key would answer 409 for a whole day.
 */
export const ABANDONED_CLAIM_MS = 60_000;

/**
 * A key claimed by one user: stored in the task table next to the tasks. Its id (`idem#<hex>`) can
 * never be a task id, so a claim cannot collide with a task nor be read through `GET /tasks/<id>`.
 */
export interface IdempotencyClaim {
  readonly id: string;
  readonly owner: string;
  /** The task this key stands for; it is written right after the claim. */
  readonly taskId: string;
  /**
   * Digest of the request (the task's canonical input, and when it was asked to run; a batch's
   * body), so the same key with another body can be refused.
   */
  readonly requestDigest: string;
  /**
   * A batch's tasks, one per item in order (`''` for an item refused before any task was made):
   * `taskId` then names the batch, not a task.
   */
  readonly taskIds?: readonly string[];
  /**
   * A batch's items (by index) that were not accepted, written once its first request has answered:
   * a replay then answers them as the first request did at once, rather than waiting to tell a
   * request still writing from one that failed.
   */
  readonly settled?: readonly number[];
  readonly createdAt: string;
  /** Epoch seconds; the table's TTL deletes by it on AWS, and readers treat an expired claim as absent. */
  readonly expiresAt: number;
}

/**
 * The claim id of `key` for `owner`. Hashed so any key fits in a DynamoDB key and no key leaks into
 * it; owner and key are JSON-encoded together so ("ab", "c") and ("a", "bc") differ.
 */
export function idempotencyClaimId(owner: string, key: string): string {
  return `idem#${sha256(JSON.stringify([owner, key]))}`;
}

/**
 * Whether a claim's digest stands for `input`. Claims made before tasks were user-defined digest add
 * and mul's integers as decimal strings (`["add",["1","2"]]`), where today's canonical form keeps
 * safe integers as numbers: a retry with the same body and key still finds its task.
 */
export function claimMatches(
  claim: Pick<IdempotencyClaim, 'requestDigest'>,
  input: TaskInput,
  runLater?: RunLater & { readonly callbackUrl?: string },
): boolean {
  if (claim.requestDigest === requestDigest(input, runLater)) return true;
  if (runLater && (runLater.runAt !== undefined || runLater.delaySeconds !== undefined || runLater.callbackUrl !== undefined)) return false;
  const { name, args } = input;
  const integers = Array.isArray(args) && args.every((arg) => typeof arg === 'number' || typeof arg === 'string');
  return integers && claim.requestDigest === taskInputDigest({ name, args: args.map(String) });
}

/**
 * The digest a claim keeps for a single task: its input's digest, as before tasks could run later,
 * and with the time it was asked to run (as sent: `delaySeconds` is one request however late it is
 * retried) when there is one.
 */
export function requestDigest(input: TaskInput, runLater?: RunLater & { readonly callbackUrl?: string }): string {
  if (!runLater || (runLater.runAt === undefined && runLater.delaySeconds === undefined && runLater.callbackUrl === undefined)) {
    return taskInputDigest(input);
  }
  const when = [taskInputDigest(input), runLater.runAt ?? null, runLater.delaySeconds ?? null];
  // Digests of requests without a callbackUrl stay as they were before it existed.
  const fields = runLater.callbackUrl === undefined ? ['run-later', ...when] : ['submission', ...when, runLater.callbackUrl];
  return sha256(JSON.stringify(fields));
}

/** The digest a claim keeps for a batch: of its body as parsed (a retry sends the same body). */
export function batchRequestDigest(body: unknown): string {
  return sha256(JSON.stringify(['batch', body]));
}

export function isClaimExpired(claim: Pick<IdempotencyClaim, 'expiresAt'>, nowMs: number): boolean {
  return claim.expiresAt * 1000 <= nowMs;
}

/** A claim old enough that a missing task means its request died between its two writes. */
export function isClaimAbandoned(claim: Pick<IdempotencyClaim, 'createdAt'>, nowMs: number): boolean {
  return nowMs - Date.parse(claim.createdAt) >= ABANDONED_CLAIM_MS;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
