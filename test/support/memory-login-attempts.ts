import type { Admission, AttemptRule, LoginAttemptStore } from '../../lib/auth/login-throttle.ts';

/** Login attempts in memory, with the DynamoDB store's rolling windows, for unit tests of the code that uses them. */
export class MemoryLoginAttempts implements LoginAttemptStore {
  /** key -> attempt id -> epoch ms. */
  readonly attempts = new Map<string, Map<string, number>>();

  async admit(key: string, attemptId: string, atMs: number, rule: AttemptRule): Promise<Admission> {
    const windowMs = rule.windowSeconds * 1000;
    const entries = this.attempts.get(key) ?? new Map<string, number>();
    this.attempts.set(key, entries);
    for (const [entry, at] of entries) if (at <= atMs - windowMs) entries.delete(entry);
    if (entries.size >= rule.limit) return { admitted: false, retryAfterMs: Math.min(...entries.values()) + windowMs - atMs };
    entries.set(attemptId, atMs);
    return { admitted: true };
  }

  async forget(key: string, attemptId: string): Promise<void> {
    this.attempts.get(key)?.delete(attemptId);
  }
}
