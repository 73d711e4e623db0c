import { setImmediate as yieldToEvents } from 'node:timers/promises';
import * as z from 'zod/mini';
import { defineTask } from '../lib/tasks/define-task.ts';

const MAX_BELOW = 2_000_000_000;
/** Numbers sieved between two looks at the signal and two progress reports. */
const SEGMENT = 1 << 18;

/**
 * How many primes are below `below`, by a segmented sieve of Eratosthenes: CPU-bound, reporting
 * its progress per segment and giving the event loop a turn between segments, so its progress is
 * stored and its time limit can stop it.
 */
export const primes = defineTask({
  name: 'primes',
  description: `Counts the primes below \`below\` (up to ${MAX_BELOW.toLocaleString('en')}), reporting its progress: a CPU-bound task.`,
  args: z.strictObject({ below: z.int().check(z.minimum(2), z.maximum(MAX_BELOW)) }),
  result: z.strictObject({ below: z.int(), count: z.int() }),
  timeoutSeconds: 60,
  pure: true,
  run: async ({ below }, ctx) => {
    const basePrimes = smallPrimes(Math.floor(Math.sqrt(below)) + 1);
    const composite = new Uint8Array(SEGMENT);
    let count = 0;
    for (let low = 2; low < below; low += SEGMENT) {
      ctx.signal.throwIfAborted();
      const high = Math.min(low + SEGMENT, below);
      composite.fill(0);
      for (const prime of basePrimes) {
        if (prime * prime >= high) break;
        for (let multiple = Math.max(prime * prime, Math.ceil(low / prime) * prime); multiple < high; multiple += prime) {
          composite[multiple - low] = 1;
        }
      }
      for (let n = low; n < high; n++) if (composite[n - low] === 0) count++;
      ctx.progress({ done: high, total: below }, `${count.toLocaleString('en')} primes below ${high.toLocaleString('en')}`);
      await yieldToEvents();
    }
    return { below, count };
  },
});

/** The primes below `limit`, by a plain sieve (limit is at most about 45,000 here). */
function smallPrimes(limit: number): number[] {
  const composite = new Uint8Array(limit);
  const found: number[] = [];
  for (let n = 2; n < limit; n++) {
    if (composite[n]) continue;
    found.push(n);
    for (let multiple = n * n; multiple < limit; multiple += n) composite[multiple] = 1;
  }
  return found;
}
