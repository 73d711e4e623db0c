import * as z from 'zod/mini';
import { InvalidRequestError } from '../errors.ts';
import { MAX_QUEUE_DELAY_SECONDS } from '../ports.ts';

/**
 * Running a task later: the pure rules. A submission may carry `runAt` (an ISO time) or
 * `delaySeconds`, never both. Up to the queue's own delay (SQS: 15 minutes) the message is sent
 * with that delay; beyond it the task waits in the store as SCHEDULED and the sweeper queues it
 * when it is nearly due. At most `maxAheadSeconds` ahead (a task's life, 7 days).
 */

/** When to run, as the request said it. */
export interface RunLater {
  readonly runAt?: string;
  readonly delaySeconds?: number;
}

export interface RunLaterLimits {
  /** The furthest ahead a task may be set to run. */
  readonly maxAheadSeconds: number;
  /** The furthest ahead a message is sent with the queue's own delay; beyond, the task is SCHEDULED. */
  readonly maxQueueDelaySeconds: number;
}

export const DEFAULT_RUN_LATER_LIMITS: RunLaterLimits = {
  maxAheadSeconds: 7 * 24 * 60 * 60,
  maxQueueDelaySeconds: MAX_QUEUE_DELAY_SECONDS,
};

/** The request fields, added to every task's request schema (TaskCatalog). */
export const RUN_LATER_FIELDS = {
  runAt: z.optional(
    z.iso.datetime({ offset: true, error: 'must be an ISO 8601 time with a zone, e.g. 2026-12-01T18:30:00Z' }).check(
      z.meta({ description: 'Run the task at this time (ISO 8601, with `Z` or an offset), up to 7 days ahead. Not with `delaySeconds`.' }),
    ),
  ),
  delaySeconds: z.optional(
    z.int().check(
      z.gte(0),
      z.meta({ description: 'Run the task this many seconds from now, up to 7 days (604800). Not with `runAt`.' }),
    ),
  ),
};

/**
 * When a task is to run, in epoch ms, or undefined to run it now. Throws InvalidRequestError naming
 * the limit for a time in the past or too far ahead, or for both fields at once.
 */
export function resolveRunAt(when: RunLater | undefined, nowMs: number, limits: RunLaterLimits): number | undefined {
  if (!when || (when.runAt === undefined && when.delaySeconds === undefined)) return undefined;
  if (when.runAt !== undefined && when.delaySeconds !== undefined) {
    throw new InvalidRequestError('give runAt or delaySeconds, not both');
  }
  const limit = `tasks can run at most ${describeSeconds(limits.maxAheadSeconds)} ahead`;
  if (when.delaySeconds !== undefined) {
    if (when.delaySeconds > limits.maxAheadSeconds) {
      throw new InvalidRequestError(`delaySeconds is ${when.delaySeconds}; ${limit} (delaySeconds up to ${limits.maxAheadSeconds})`);
    }
    return when.delaySeconds === 0 ? undefined : nowMs + when.delaySeconds * 1000;
  }
  const runAtMs = Date.parse(when.runAt!);
  if (runAtMs <= nowMs) {
    throw new InvalidRequestError(`runAt ${when.runAt} is in the past; give a time in the future (${limit})`);
  }
  if (runAtMs - nowMs > limits.maxAheadSeconds * 1000) {
    throw new InvalidRequestError(`runAt ${when.runAt} is more than ${describeSeconds(limits.maxAheadSeconds)} ahead; ${limit}`);
  }
  return runAtMs;
}

/** Whole seconds from `nowMs` to `runAtMs`, rounded up: the queue's DelaySeconds. */
export function delayUntil(runAtMs: number, nowMs: number): number {
  return Math.max(0, Math.ceil((runAtMs - nowMs) / 1000));
}

function describeSeconds(seconds: number): string {
  if (seconds % 86_400 === 0) return `${seconds / 86_400} ${seconds === 86_400 ? 'day' : 'days'} (${seconds} s)`;
  return `${seconds} s`;
}
