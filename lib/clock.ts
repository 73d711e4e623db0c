/**
 * The time as the core reads it, in epoch milliseconds. Every part that reads the time takes one, so
 * tests move time by hand (test/support/fake-clock.ts) instead of sleeping.
 */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
