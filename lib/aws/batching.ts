import { setTimeout as sleep } from 'node:timers/promises';

/**
 * What the bulk calls of the adapters share (BatchWriteItem, SendMessageBatch): a few calls in
 * flight at once, and the pause before retrying the part AWS did not take.
 */

/** Runs `work` on every item, at most `concurrency` at a time. `work` must not reject. */
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
