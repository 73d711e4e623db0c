import { setTimeout as sleep } from 'node:timers/promises';

export interface EventuallyOptions {
  /** Give up after this long and rethrow the last failure. */
  readonly timeoutMs: number;
  /** Pause between attempts. */
  readonly intervalMs?: number;
}

/**
 * Retries `check` until it stops throwing (an `expect` inside it is the usual check) and returns
 * what it returned. Past the deadline the last failure is rethrown, so a test that times out says
 * which expectation was still unmet. Used instead of fixed sleeps to wait for asynchronous outcomes.
 */
export async function eventually<T>(check: () => Promise<T> | T, options: EventuallyOptions): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() >= deadline) throw error;
    }
    await sleep(options.intervalMs ?? 50);
  }
}
