import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A few calls in flight at once, and the pause before retrying what AWS did not take: shared by the
 * bulk calls of the adapters (BatchWriteItem, SendMessageBatch) and the core's fan-outs.
 */

/**
 * Runs `work` on every item, at most `concurrency` at a time. A rejection of `work` rejects the
 * whole at once (items already started run on, no new one starts in that lane); bulk calls that must
 * see every item through catch their own errors.
 */
export async function eachConcurrently<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

/**
 * Waits before retry `retry` (0 for the first): exponential backoff with full jitter, a random
 * pause up to `baseMs * 2^retry` (AWS Architecture Blog, "Exponential Backoff And Jitter"), as the
 * BatchWriteItem and SendMessageBatch references ask of retried items.
 */
export function backoff(retry: number, baseMs: number): Promise<void> {
  return sleep(Math.random() * baseMs * 2 ** retry);
}
