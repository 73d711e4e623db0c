import type { LoginAttemptStore } from '../../lib/auth/login-throttle.ts';

/** Failed-login counters in memory, for unit tests of the code that uses them. */
export class MemoryLoginAttempts implements LoginAttemptStore {
  readonly counts = new Map<string, number>();

  async failures(key: string, windowEndsAt: number): Promise<number> {
    return this.counts.get(`${key}#${windowEndsAt}`) ?? 0;
  }

  async addFailure(key: string, windowEndsAt: number): Promise<number> {
    const id = `${key}#${windowEndsAt}`;
    const count = (this.counts.get(id) ?? 0) + 1;
    this.counts.set(id, count);
    return count;
  }

  async clear(key: string, windowEndsAt: number): Promise<void> {
    this.counts.delete(`${key}#${windowEndsAt}`);
  }
}
