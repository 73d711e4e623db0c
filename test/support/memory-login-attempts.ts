import { type Admission, type AttemptRule, rollingWindow } from '../../lib/auth/login-throttle.ts';
import type { LoginAttemptStore } from '../../lib/ports.ts';

/** Login attempts in memory, with the DynamoDB store's rolling windows, for unit tests of the code that uses them. */
export class MemoryLoginAttempts implements LoginAttemptStore {
  /** key -> attempt id -> epoch ms. */
  readonly attempts = new Map<string, Record<string, number>>();
  /** key -> trusted until (epoch ms). */
  readonly trusted = new Map<string, number>();

  async admit(key: string, attemptId: string, atMs: number, rule: AttemptRule): Promise<Admission> {
    const entries = this.attempts.get(key) ?? {};
    this.attempts.set(key, entries);
    const { stale, live, retryAfterMs } = rollingWindow(entries, atMs, rule);
    for (const id of stale) delete entries[id];
    if (live >= rule.limit) return { admitted: false, retryAfterMs };
    entries[attemptId] = atMs;
    return { admitted: true };
  }

  async forget(key: string, attemptId: string): Promise<void> {
    const entries = this.attempts.get(key);
    if (entries) delete entries[attemptId];
  }

  async trust(key: string, untilMs: number): Promise<void> {
    this.trusted.set(key, untilMs);
  }

  async isTrusted(key: string, atMs: number): Promise<boolean> {
    return (this.trusted.get(key) ?? 0) > atMs;
  }
}
